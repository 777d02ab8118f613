package library

// PrincipalOf is the principal of the live token with this ID: download
// links name the token that made them and stop working once it is revoked.
func (s *Service) PrincipalOf(tokenID string) (Principal, error) {
	if tokenID == "" || len(tokenID) > 128 {
		return Principal{}, ErrUnauthenticated
	}
	var t *Token
	err := s.repo.View(func(tx ReadTx) error {
		var err error
		t, err = tx.Token(tokenID)
		return err
	})
	if err != nil || t.Revoked {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{Name: t.Name, TokenID: t.ID, Role: t.Role, Products: t.Products}, nil
}
