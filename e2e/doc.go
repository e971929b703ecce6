// Package e2e holds the end-to-end tests of Haven. They build the real
// haven binary, start it on a free local port with a temporary data folder,
// and drive it with the official clients: the Python huggingface_hub library
// and hf CLI (e2e/python), the JavaScript @huggingface/hub library (e2e/js),
// and git with git-lfs.
//
// The client dependencies are installed by scripts/setup-test-deps.sh. When
// they are missing the tests skip, unless HAVEN_TEST_REQUIRE_SERVICES=1, in
// which case they fail. With HAVEN_TEST_POSTGRES_DSN and HAVEN_TEST_S3_URL set,
// part of the Python suite runs a second time against a server that keeps its
// metadata in PostgreSQL and its large files in S3.
package e2e
