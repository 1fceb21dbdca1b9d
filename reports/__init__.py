"""How results are shown: reports built from run directories (files, never live objects)."""
