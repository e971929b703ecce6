package runner

// ImageBuilder is implemented by backends that build a Recipe's Dockerfile
// and run its Image. Callers ask before handing them such a recipe, so a
// Space that needs an engine fails with a clear message at once rather than
// in the build.
type ImageBuilder interface {
	BuildsImages() bool
}

// BuildsImages reports whether r builds Dockerfiles and runs images; false
// for a nil runner.
func BuildsImages(r Runner) bool {
	b, ok := r.(ImageBuilder)
	return ok && b.BuildsImages()
}
