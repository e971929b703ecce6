package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/havenhub/haven/runner"
)

// sandboxEnv carries a sandbox's description from the runner to the helper
// process it starts (the same binary, see Main); the helper removes it
// before the workload runs.
const sandboxEnv = "HAVEN_RUNNER_SANDBOX"

// sandbox is what the helper applies to itself before it becomes the
// workload: resource limits, then a Landlock domain, then execve. Both are
// inherited by everything the workload starts.
type sandbox struct {
	Argv []string `json:"argv"`
	Dir  string   `json:"dir"`
	// Read may be read and executed; Write may also be written.
	Read  []string `json:"read"`
	Write []string `json:"write"`
	// BindPort, when set, is the only TCP port the workload may bind.
	BindPort int `json:"bindPort,omitempty"`
	// DataBytes bounds the heap and private mappings (RLIMIT_DATA), Procs
	// the processes of the workload's user (RLIMIT_NPROC); 0 leaves them.
	DataBytes int64 `json:"dataBytes,omitempty"`
	Procs     int   `json:"procs,omitempty"`
	// Mounts are bind-mounted at their targets, in the mount namespace the
	// helper was started in, before it becomes the workload's user (UID,
	// GID, when Drop): only a helper started as root can.
	Mounts []runner.Mount `json:"mounts,omitempty"`
	Drop   bool           `json:"drop,omitempty"`
	UID    int            `json:"uid,omitempty"`
	GID    int            `json:"gid,omitempty"`
}

// Main turns the process into a sandboxed workload when the runner started
// it as one, and does nothing otherwise. Programs that use the process
// runner call it first thing in main (tests: in TestMain), because the
// runner starts workloads by re-executing the running binary.
func Main() {
	raw, ok := os.LookupEnv(sandboxEnv)
	if !ok {
		return
	}
	os.Unsetenv(sandboxEnv)
	var sb sandbox
	if err := json.Unmarshal([]byte(raw), &sb); err != nil {
		fail(126, "bad sandbox description: %v", err)
	}
	// The Landlock domain belongs to the thread that asks for it; execve
	// from that same thread hands it to the new program.
	runtime.LockOSThread()
	if err := sb.mount(); err != nil {
		fail(126, "mounts: %v", err)
	}
	if err := sb.limit(); err != nil {
		fail(126, "limits: %v", err)
	}
	if sb.Drop {
		if err := sb.drop(); err != nil {
			fail(126, "user: %v", err)
		}
	}
	if err := sb.confine(); err != nil {
		fail(126, "filesystem confinement: %v", err)
	}
	if len(sb.Argv) == 0 {
		fail(126, "nothing to run")
	}
	path, err := lookPath(sb.Argv[0], os.Getenv("PATH"), sb.Dir)
	if err != nil {
		fail(127, "%s: command not found", sb.Argv[0])
	}
	if err := syscall.Exec(path, sb.Argv, os.Environ()); err != nil {
		fail(126, "%s: %v", sb.Argv[0], err)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runner: "+format+"\n", args...)
	os.Exit(code)
}

// lookPath finds name in the workload's PATH (not Haven's).
func lookPath(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return name, nil
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// mount bind-mounts the workload's folders at their targets. The mount
// namespace is the helper's own (the runner starts it with CLONE_NEWNS),
// made private first so that nothing propagates back to the machine. A
// target missing on the machine is created as an empty folder.
func (sb *sandbox) mount() error {
	if len(sb.Mounts) == 0 {
		return nil
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	for _, m := range sb.Mounts {
		if m.Source == m.Target {
			continue // nothing to move: the folder is granted as it is
		}
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("%s at %s: %w", m.Source, m.Target, err)
		}
		if m.ReadOnly {
			if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("%s read-only: %w", m.Target, err)
			}
		}
	}
	return nil
}

// drop becomes the workload's user, with no supplementary groups.
func (sb *sandbox) drop() error {
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setresgid(sb.GID, sb.GID, sb.GID); err != nil {
		return err
	}
	return syscall.Setresuid(sb.UID, sb.UID, sb.UID)
}

func (sb *sandbox) limit() error {
	if sb.DataBytes > 0 {
		l := &unix.Rlimit{Cur: uint64(sb.DataBytes), Max: uint64(sb.DataBytes)}
		if err := unix.Setrlimit(unix.RLIMIT_DATA, l); err != nil {
			return err
		}
	}
	if sb.Procs > 0 {
		l := &unix.Rlimit{Cur: uint64(sb.Procs), Max: uint64(sb.Procs)}
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, l); err != nil {
			return err
		}
	}
	return nil
}

// landlockABI is the kernel's Landlock version, 0 where it has none.
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// Landlock access rights, by the ABI version that introduced them.
const (
	fsFileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE
	fsRightsV1   = 1<<13 - 1
	fsReadRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	ruleNetPort  = 2 // LANDLOCK_RULE_NET_PORT, ABI 4
)

func fsRights(abi int) uint64 {
	r := uint64(fsRightsV1)
	if abi >= 2 {
		r |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		r |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		r |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return r
}

// landlockNetPortAttr is struct landlock_net_port_attr.
type landlockNetPortAttr struct {
	allowed uint64
	port    uint64
}

// confine restricts the thread to Read and Write (and, where the kernel
// can, TCP binds to BindPort). Kernels without Landlock run unconfined; the
// runner says so in the build log.
func (sb *sandbox) confine() error {
	abi := landlockABI()
	if abi < 1 {
		return nil
	}
	handled := fsRights(abi)
	attr := unix.LandlockRulesetAttr{Handled_access_fs: handled}
	size := uintptr(8) // the ABI 1 layout: file system rights only
	if abi >= 4 && sb.BindPort != 0 {
		attr.Handled_access_net = unix.LANDLOCK_ACCESS_NET_BIND_TCP
		size = 16
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("create ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	add := func(path string, access uint64) error {
		fi, err := os.Stat(path)
		if err != nil {
			return nil // a path this machine lacks needs no rule
		}
		if !fi.IsDir() {
			access &= fsFileRights | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
		}
		f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		rule := unix.LandlockPathBeneathAttr{Allowed_access: access & handled, Parent_fd: int32(f.Fd())}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(fd), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("rule for %s: %w", path, errno)
		}
		return nil
	}
	for _, p := range sb.Read {
		if err := add(p, fsReadRights); err != nil {
			return err
		}
	}
	for _, p := range sb.Write {
		if err := add(p, handled); err != nil {
			return err
		}
	}
	if attr.Handled_access_net != 0 {
		rule := landlockNetPortAttr{allowed: unix.LANDLOCK_ACCESS_NET_BIND_TCP, port: uint64(sb.BindPort)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(fd), ruleNetPort, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("port rule: %w", errno)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("restrict: %w", errno)
	}
	return nil
}
