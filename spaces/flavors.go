package spaces

import (
	"github.com/havenhub/haven"
	haverunner "github.com/havenhub/haven/runner"
)

const defaultFlavor = haverunner.DefaultFlavor

// flavors are the hardware choices of Spaces on this hub.
func (s *Service) flavors() haverunner.Flavors { return haverunner.SpaceFlavors(s.cfg.GPUs) }

// checkFlavor refuses a hardware flavor this hub does not offer, naming
// those it does.
func (s *Service) checkFlavor(name string) error {
	if err := s.flavors().Check(name); err != nil {
		return haven.Errorf(haven.EInvalid, "%s", err.Error())
	}
	return nil
}

// acquireGPUs gives w the GPUs its flavor asks for, held until release.
func (s *Service) acquireGPUs(w *haverunner.Workload, n int) (release func(), err error) {
	return s.cfg.GPUs.Assign(w, n)
}
