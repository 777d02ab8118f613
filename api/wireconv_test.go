package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// fill sets every exported field reachable from v to a value that is not
// zero (slices of two, maps of one, pointers set), so a field the wire
// conversion drops or renames shows in the JSON.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, *n, time.UTC)))
		return
	case reflect.TypeFor[json.RawMessage]():
		v.Set(reflect.ValueOf(json.RawMessage(`{"k":1}`)))
		return
	case reflect.TypeFor[library.Role]():
		v.Set(reflect.ValueOf(library.RoleReleaseManager))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		v.SetUint(uint64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) / 8)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, n)
		fill(t, e, n)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

// TestWireConversionsKeepJSON: each conversion at the edge writes exactly
// the JSON the domain type wrote before the wire package (every field
// set, and every field zero), so moving the API onto api/wire changed no
// answer and a field added to a domain type without its wire twin fails.
func TestWireConversionsKeepJSON(t *testing.T) {
	check := func(name string, newLib func() any, conv func(any) any) {
		t.Helper()
		for _, filled := range []bool{false, true} {
			lib := newLib()
			if filled {
				n := 0
				fill(t, reflect.ValueOf(lib).Elem(), &n)
			}
			want, err1 := json.Marshal(lib)
			got, err2 := json.Marshal(conv(lib))
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: marshal: %v %v", name, err1, err2)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s (filled %v):\n domain %s\n wire   %s", name, filled, want, got)
			}
		}
	}
	check("Product", func() any { return &library.Product{} }, func(v any) any { return wireProduct(v.(*library.Product)) })
	check("Release", func() any { return &library.Release{} }, func(v any) any { return wireRelease(v.(*library.Release)) })
	check("Artifact", func() any { return &library.Artifact{} }, func(v any) any { return wireArtifact(v.(*library.Artifact)) })
	check("Rollout", func() any { return &library.Rollout{} }, func(v any) any { return wireRollout(v.(*library.Rollout)) })
	check("TrustedPublisher", func() any { return &library.TrustedPublisher{} },
		func(v any) any { return wirePublisher(v.(*library.TrustedPublisher)) })
	check("Delivery", func() any { return &library.Delivery{} }, func(v any) any { return wireDelivery(*v.(*library.Delivery)) })
	check("JournalEvent", func() any { return &library.JournalEvent{} }, func(v any) any { return wireEvent(v.(*library.JournalEvent)) })
	check("Attestation", func() any { return &library.Attestation{} }, func(v any) any { return wireAttestation(v.(*library.Attestation)) })
	check("BaselineDiff", func() any { return &library.BaselineDiff{} }, func(v any) any { return wireBaselineDiff(v.(*library.BaselineDiff)) })
	check("Deployment", func() any { return &library.Deployment{} }, func(v any) any { return wireDeployment(v.(*library.Deployment)) })
	check("EnvironmentView", func() any { return &library.EnvironmentView{} },
		func(v any) any { return wireEnvironment(v.(*library.EnvironmentView)) })
	check("DeletedRelease", func() any { return &library.DeletedRelease{} },
		func(v any) any { return wireDeletedRelease(v.(*library.DeletedRelease)) })
	check("RetentionReport", func() any { return &library.RetentionReport{} },
		func(v any) any { return wireRetentionReport(v.(*library.RetentionReport)) })
	check("RolloutView", func() any { return &library.RolloutView{} }, func(v any) any { return wireRolloutView(v.(*library.RolloutView)) })
	check("Baseline", func() any { return &library.Baseline{} }, func(v any) any { return wireBaseline(v.(*library.Baseline)) })
	check("BaselineView", func() any { return &library.BaselineView{} }, func(v any) any { return wireBaselineView(v.(*library.BaselineView)) })
	check("VerifyReport", func() any { return &library.VerifyReport{} }, func(v any) any { return wireAuditReport(*v.(*library.VerifyReport)) })
}

// TestWireInputsDecodeAsBefore: every request body the library's input
// type took (every field set) decodes strictly into its wire type and
// converts back to the same library input, so no field was lost or
// renamed by decoding into api/wire.
func TestWireInputsDecodeAsBefore(t *testing.T) {
	check := func(name string, lib any, decodeConv func([]byte) (any, error)) {
		t.Helper()
		n := 0
		fill(t, reflect.ValueOf(lib).Elem(), &n)
		body, err := json.Marshal(lib)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeConv(body)
		if err != nil {
			t.Fatalf("%s: %s does not decode: %v", name, body, err)
		}
		if want := reflect.ValueOf(lib).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n sent %#v\n got  %#v", name, want, got)
		}
	}
	check("ProductInput", &library.ProductInput{}, func(b []byte) (any, error) {
		var in wire.ProductInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libProductInput(in), err
	})
	check("PolicyInput", &library.PolicyInput{}, func(b []byte) (any, error) {
		var in wire.PolicyInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libPolicyInput(in), err
	})
	check("ReleaseInput", &library.ReleaseInput{}, func(b []byte) (any, error) {
		var in wire.ReleaseInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libReleaseInput(in), err
	})
	check("PromoteInput", &library.PromoteInput{}, func(b []byte) (any, error) {
		var in wire.PromoteInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libPromoteInput(in), err
	})
	check("WithdrawInput", &library.WithdrawInput{}, func(b []byte) (any, error) {
		var in wire.WithdrawInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libWithdrawInput(in), err
	})
	check("PublisherInput", &library.PublisherInput{}, func(b []byte) (any, error) {
		var in wire.PublisherInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libPublisherInput(in), err
	})
	check("RolloutInput", &library.RolloutInput{}, func(b []byte) (any, error) {
		var in wire.RolloutInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libRolloutInput(in), err
	})
	check("BaselineInput", &library.BaselineInput{}, func(b []byte) (any, error) {
		var in wire.BaselineInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libBaselineInput(in), err
	})
	check("DeploymentInput", &library.DeploymentInput{}, func(b []byte) (any, error) {
		var in wire.DeploymentInput
		err := DecodeStrict(bytes.NewReader(b), &in)
		return libDeploymentInput(in), err
	})
}
