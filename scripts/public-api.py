#!/usr/bin/env python3
"""List the public API of a crate from its rustdoc JSON, one item a line, sorted.

Usage: scripts/public-api.py TARGET/doc/CRATE.json

Walks the crate from its root module the way a user reaches items: through public modules and
`pub use` re-exports (globs included), listing each module, function, constant, type alias,
struct (with its public fields), enum (with its variants), trait (with its items), and the
methods and associated items of inherent impls. Trait impls are listed as one line each
(`impl Trait for Type`), without their items. An item reachable by two paths is listed under
both: two paths are two names to review.

The JSON comes from the stable toolchain with `RUSTC_BOOTSTRAP=1 cargo rustdoc -p CRATE --lib
-- -Z unstable-options --output-format json` (see scripts/public-api).
"""
import json
import sys


def main():
    doc = json.load(open(sys.argv[1]))
    index = doc["index"]
    out = set()
    seen_modules = set()

    def item(i):
        return index.get(str(i)) if not isinstance(i, str) else index.get(i)

    def type_name(t):
        """A short rendering of a type for `impl ... for T` lines."""
        if not isinstance(t, dict):
            return "?"
        if "resolved_path" in t:
            return t["resolved_path"]["path"].split("::")[-1]
        if "borrowed_ref" in t:
            return "&" + type_name(t["borrowed_ref"]["type"])
        if "generic" in t:
            return t["generic"]
        if "primitive" in t:
            return t["primitive"]
        return next(iter(t), "?")

    def impls(path, impl_ids):
        for iid in impl_ids or []:
            imp = item(iid)
            if not imp:
                continue
            inner = imp["inner"]["impl"]
            if inner.get("is_synthetic") or inner.get("blanket_impl") is not None:
                continue
            trait = inner.get("trait")
            if trait is not None:
                tname = trait["path"].split("::")[-1]
                if tname in ("Debug", "Clone", "Copy", "PartialEq", "Eq", "Hash", "Default",
                             "PartialOrd", "Ord", "StructuralPartialEq", "Send", "Sync",
                             "Unpin", "UnwindSafe", "RefUnwindSafe", "Freeze"):
                    continue
                out.add(f"{path}: impl {tname}")
                continue
            for mid in inner.get("items", []):
                m = item(mid)
                if not m or m.get("visibility") != "public" or not m.get("name"):
                    continue
                kind = next(iter(m["inner"]))
                out.add(f"{path}::{m['name']} ({kind})")

    def children(module, here):
        """Walk the public items of `module` as items of `here`."""
        for child in module["inner"]["module"]["items"]:
            c = item(child)
            if c is None:
                continue
            if c.get("visibility") != "public":
                continue
            ck = next(iter(c["inner"]))
            if ck == "use":
                u = c["inner"]["use"]
                target = u.get("id")
                if target is None or item(target) is None:
                    # a re-export of another crate's item
                    if not u.get("is_glob"):
                        out.add(f"{here}::{u['name']} (re-export of {u['source']})")
                    continue
                if u.get("is_glob"):
                    # the globbed module's public items (its own re-exports included) as
                    # if they stood here
                    t = item(target)
                    if t and next(iter(t["inner"])) == "module":
                        children(t, here)
                    continue
                walk(target, here, u["name"])
            else:
                walk(child, here)

    def walk(i, path, name_override=None):
        it = item(i)
        if it is None:
            return
        inner = it["inner"]
        kind = next(iter(inner))
        name = name_override or it.get("name")
        here = f"{path}::{name}" if path else name
        if kind == "module":
            key = (i, here)
            if key in seen_modules:
                return
            seen_modules.add(key)
            if path:
                out.add(f"{here} (mod)")
            children(it, here)
            return
        if kind == "struct":
            out.add(f"{here} (struct)")
            s = inner["struct"]
            k = s.get("kind", {})
            if isinstance(k, dict) and "plain" in k:
                for f in k["plain"]["fields"]:
                    fi = item(f)
                    if fi and fi.get("visibility") == "public":
                        out.add(f"{here}.{fi['name']} (field)")
            impls(here, s.get("impls"))
        elif kind == "enum":
            out.add(f"{here} (enum)")
            e = inner["enum"]
            for v in e["variants"]:
                vi = item(v)
                if vi:
                    out.add(f"{here}::{vi['name']} (variant)")
            impls(here, e.get("impls"))
        elif kind == "trait":
            out.add(f"{here} (trait)")
            for ti in inner["trait"]["items"]:
                t = item(ti)
                if t and t.get("name"):
                    out.add(f"{here}::{t['name']} ({next(iter(t['inner']))})")
        elif kind in ("function", "constant", "type_alias", "static", "macro", "union"):
            out.add(f"{here} ({kind})")
        else:
            out.add(f"{here} ({kind})")

    walk(doc["root"], "")
    for line in sorted(out):
        print(line)


if __name__ == "__main__":
    main()
