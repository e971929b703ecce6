package spaces

import (
	"testing"
	"time"
)

func TestAccessSigner(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := newAccessSigner([]byte("deployment secret"))
	token := a.sign(7, now.Add(time.Hour))
	tests := []struct {
		name  string
		token string
		repo  int64
		at    time.Time
		ok    bool
	}{
		{"valid", token, 7, now, true},
		{"another Space", token, 8, now, false},
		{"expired", token, 7, now.Add(time.Hour), false},
		{"tampered expiry", "7.1900000000." + token[len("7.1800003600."):], 7, now, false},
		{"another deployment", newAccessSigner([]byte("other")).sign(7, now.Add(time.Hour)), 7, now, false},
		{"garbage", "nonsense", 7, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := a.check(tt.token, tt.repo, tt.at); ok != tt.ok {
				t.Errorf("check = %v, want %v", ok, tt.ok)
			}
		})
	}
}
