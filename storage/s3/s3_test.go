package s3_test

import (
	"os"
	"testing"

	"github.com/reliquary/reliquary/internal/testenv"
	"github.com/reliquary/reliquary/storage"
	"github.com/reliquary/reliquary/storage/s3"
	"github.com/reliquary/reliquary/storage/storagetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{
		Presign:   true,
		LargeSize: 12 << 20, // above the 5 MiB part size below: multipart
		New: func(t *testing.T) storage.BlobStore {
			cfg := testenv.SharedMinIO(t).Config(t)
			cfg.PartSize = 5 << 20
			s, err := s3.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}
