"""The demo gallery: real images from the package registries for `make demo`. Nothing imports it."""
