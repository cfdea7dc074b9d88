#!/usr/bin/env python3
"""Lists every log event of the product crates: level, crate, message, fields.

    scripts/log-events.py           # prints the Markdown table
    scripts/log-events.py --check   # fails if docs/OBSERVABILITY.md lacks a message

A log event is a `trace!`/`debug!`/`info!`/`warn!`/`error!` call in
crates/*/src (test helpers and test modules excluded); its message is the
last string literal of the call, its fields the `name = value` and `%name` /
`?name` arguments before it.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SKIP_CRATES = {"ddns-testkit", "ddns-cloudflare-standin", "ddns-bench", "ddns-kube-fake"}
MACRO = re.compile(r"\b(trace|debug|info|warn|error)!\(")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
FIELD = re.compile(r"(?:^|,)\s*(?:[%?])?([a-z_][a-z0-9_.]*)\s*(?:=|,|$)")


def calls(text):
    for match in MACRO.finditer(text):
        depth, i = 1, match.end()
        in_str = False
        while i < len(text) and depth:
            c = text[i]
            if in_str:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        yield match.group(1), text[match.end() : i - 1], match.start()


def events():
    found = []
    for path in sorted(ROOT.glob("crates/*/src/**/*.rs")):
        crate = path.relative_to(ROOT).parts[1]
        if crate in SKIP_CRATES or "tests" in path.parts or path.name == "tests.rs":
            continue
        text = path.read_text()
        # An inline test module (`#[cfg(test)] mod tests { … }`) ends the
        # product code; a `#[cfg(test)] mod tests;` declaration does not.
        inline = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
        if inline:
            text = text[: inline.start()]
        for level, args, _ in calls(text):
            strings = STRING.findall(args)
            if not strings:
                continue
            message = strings[-1]
            head = args[: args.rfind('"' + message + '"')]
            head = STRING.sub('""', head)
            fields = []
            for part in re.split(r",(?![^(]*\))", head):
                part = part.strip()
                m = re.match(r"^[%?]?([a-z_][a-z0-9_]*)\s*(=|$)", part)
                if m and m.group(1) not in fields:
                    fields.append(m.group(1))
            found.append((level, crate, message, fields))
    return found


def table(found):
    lines = ["| level | crate | message | fields |", "|---|---|---|---|"]
    order = {"error": 0, "warn": 1, "info": 2, "debug": 3, "trace": 4}
    for level, crate, message, fields in sorted(
        set((l, c, m, tuple(f)) for l, c, m, f in found),
        key=lambda e: (e[1], order[e[0]], e[2]),
    ):
        shown = message.replace("|", "\\|")
        lines.append(
            f"| {level} | `{crate}` | {shown} | {', '.join(f'`{f}`' for f in fields)} |"
        )
    return "\n".join(lines)


def main():
    found = events()
    if "--check" in sys.argv:
        doc = (ROOT / "docs/OBSERVABILITY.md").read_text()
        missing = sorted({m for _, _, m, _ in found if m.replace("|", "\\|") not in doc})
        if missing:
            print("docs/OBSERVABILITY.md does not list these log events "
                  "(regenerate the table with scripts/log-events.py):")
            for m in missing:
                print(f"  {m}")
            return 1
        print(f"docs/OBSERVABILITY.md lists all {len(set(m for _, _, m, _ in found))} log messages")
        return 0
    print(table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
