package runner

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CopyTree gives dst the files of src (a workload's Files) for backends to
// run or build from: folders and symbolic links as they are, regular
// files as hard links where link is set and the file system allows (the
// source then stays intact only if the reader cannot write them, and large
// weights are not copied), as copies otherwise. An empty src gives an
// empty dst.
func CopyTree(src, dst string, link bool) error {
	if src == "" {
		return os.MkdirAll(dst, 0o755)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case !d.Type().IsRegular():
			return nil
		}
		if link && os.Link(path, target) == nil {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
