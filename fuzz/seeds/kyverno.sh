#!/bin/sh
# Seeds for the `kyverno` fuzz target: each case of crates/rampart-kyverno/tests/cases as its
# policy file, a NUL byte and its resources file. Run from the repository's root.
set -e
out=fuzz/seeds/kyverno
mkdir -p "$out"
for d in crates/rampart-kyverno/tests/cases/*/; do
  name=$(basename "$d")
  for p in "$d"policy*.yaml; do
    [ -f "$p" ] || continue
    for r in "$d"resource*.yaml; do
      [ -f "$r" ] || continue
      { cat "$p"; printf '\0'; cat "$r"; } > "$out/$name-$(basename "$p" .yaml)-$(basename "$r" .yaml)"
    done
  done
done
