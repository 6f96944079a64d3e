"""Reference architectures: compositions of sgarch components, one module each."""
