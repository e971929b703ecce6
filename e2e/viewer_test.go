package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDatasets runs e2e/python_datasets: the `datasets` library loading
// datasets from Haven (streaming and not, every format, with and without
// configs in the card), HfFileSystem reads of the parquet export, and the
// dataset viewer API checked field by field, private datasets and hostile
// filter and search input included.
func TestDatasets(t *testing.T) {
	python := filepath.Join(repoRoot, ".venv", "bin", "python")
	if err := exec.Command(python, "-c", "import datasets, pytest").Run(); err != nil {
		skipOrFail(t, "the Python test environment has no `datasets`")
	}
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	cmd := exec.Command(python, "-m", "pytest", filepath.Join(repoRoot, "e2e", "python_datasets"), "-q", "-rfEs", "-p", "no:cacheprovider")
	cmd.Dir = filepath.Join(repoRoot, "e2e", "python_datasets")
	cmd.Env = append(s.clientEnv(t, f), "HF_DATASETS_OFFLINE=0", "HF_DATASETS_DISABLE_PROGRESS_BARS=1")
	runLogged(t, 10*time.Minute, cmd)
}

// TestDatasetsPartial runs e2e/python_datasets/test_partial.py against a
// server whose viewer caps converted splits at a few kilobytes, so that the
// partial exports of the Hub's 5 GB cap show on small datasets.
func TestDatasetsPartial(t *testing.T) {
	python := filepath.Join(repoRoot, ".venv", "bin", "python")
	if err := exec.Command(python, "-c", "import datasets, pytest").Run(); err != nil {
		skipOrFail(t, "the Python test environment has no `datasets`")
	}
	const limit = "20000"
	t.Setenv("HAVEN_VIEWER_MAX_SPLIT_BYTES", limit)
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	cmd := exec.Command(python, "-m", "pytest", filepath.Join(repoRoot, "e2e", "python_datasets", "test_partial.py"), "-q", "-rfEs", "-p", "no:cacheprovider")
	cmd.Dir = filepath.Join(repoRoot, "e2e", "python_datasets")
	cmd.Env = append(s.clientEnv(t, f), "HF_DATASETS_OFFLINE=0", "HF_DATASETS_DISABLE_PROGRESS_BARS=1", "HAVEN_TEST_VIEWER_CAP="+limit)
	runLogged(t, 5*time.Minute, cmd)
}
