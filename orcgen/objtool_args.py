# SPDX-License-Identifier: GPL-2.0-only
"""objtool 6.12's command line, parsed as its libsubcmd parse_options() does.

One parser for every command: `orcgen objtool` takes a whole objtool command
line through it, and `orcgen check`/`orcgen orc` build their Options from its
result (Options.from_objtool_args), so `-os`, `--stack`, `--no-orc` or
`--prefix=016` mean the same everywhere, and what they mean to objtool.
What libsubcmd (tools/lib/subcmd/parse-options.c) does, and so this:

  - short options group (`-os` is `-o -s`); a group of three or more letters
    that begins a long option's name is refused ("did you mean `--orc`");
    an `h` anywhere in a group is the built-in help (objtool prints its usage),
    never `--hacks`;
  - long options may be abbreviated to any unambiguous prefix, and negated
    with `no-` (`--no-orc`, `--no-unreachable` is itself an option);
  - OPT_INTEGER (`--prefix N`, `--prefix=N`) is strtol(arg, &end, 10) and must
    use the whole argument: decimal only, `016` is 16, `0x10` is an error;
  - `--hacks` and `--dump` take a value only after `=`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# (short, long, what) for objtool 6.12's boolean options, in its usage order.
ACTIONS = [("i", "ibt", "validate and annotate IBT"),
           ("l", "sls", "validate straight-line-speculation mitigations"),
           ("m", "mcount", "annotate mcount/fentry calls for ftrace"),
           ("n", "noinstr", "validate noinstr rules"),
           ("o", "orc", "generate ORC metadata"),
           ("r", "retpoline", "validate and annotate retpoline usage"),
           ("s", "stackval", "validate frame pointer rules"),
           ("t", "static-call", "annotate static calls"),
           ("u", "uaccess", "validate uaccess rules for SMAP"),
           ("", "cfi", "annotate kernel control flow integrity (kCFI) function preambles"),
           ("", "rethunk", "validate and annotate rethunk usage"),
           ("", "unret", "validate entry unret placement")]
OPTIONS = [("v", "verbose", "verbose warnings"),
           ("", "backtrace", "unwind on error"),
           ("", "backup", "create .orig files before modification"),
           ("", "dry-run", "don't write modifications"),
           ("", "link", "object is a linked object"),
           ("", "mnop", "nop out mcount call sites"),
           ("", "module", "object is part of a kernel module"),
           ("", "no-unreachable", "skip 'unreachable instruction' warnings"),
           ("", "sec-address", "print section addresses in warnings"),
           ("", "stats", "print statistics")]
IGNORED = ("verbose", "backtrace", "sec-address", "stats")      # accepted, no effect here
HACKS = ("jump_label", "noinstr", "skylake")

_BOOLS = {lng for _s, lng, _w in ACTIONS + OPTIONS}
_SHORT = {short: lng for short, lng, _ in ACTIONS + OPTIONS if short}
# builtin-check.c's check_options[] in declaration order: the order in which
# parse_long_opt() tries abbreviations, which names an ambiguity's two options.
_DECLARED = ["hacks", "ibt", "mcount", "noinstr", "orc", "retpoline", "rethunk", "unret",
             "prefix", "sls", "stackval", "static-call", "uaccess", "cfi", "dump",
             "backtrace", "backup", "dry-run", "link", "module", "mnop", "no-unreachable",
             "sec-address", "stats", "verbose"]
# Options.field for an objtool boolean
_FIELD = {"ibt": "ibt", "mcount": "mcount", "noinstr": "noinstr", "orc": "orc",
          "retpoline": "retpoline", "rethunk": "rethunk", "unret": "unret", "sls": "sls",
          "stackval": "stackval", "static-call": "static_call", "uaccess": "uaccess",
          "cfi": "cfi", "link": "link", "module": "module", "mnop": "mnop",
          "no-unreachable": "no_unreachable"}
_ENV_WORDS = 15          # cmd_parse_options(): envv[16], envv[0] is the name


class UsageError(ValueError):
    """A command line libsubcmd would reject (objtool: exit 129 after the usage
    text).  An empty message is the built-in help (`-h`)."""


@dataclass
class ObjtoolArgs:
    """objtool's command line, parsed: boolean options by their long names,
    the --hacks enabled, --prefix, --dump, and the non-option words (files)."""
    flags: set[str] = field(default_factory=set)
    hacks: list[str] = field(default_factory=list)
    prefix: int = 0
    dump: bool = False
    files: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.flags

    def options(self, **extra: object):
        """orcgen's Options for these arguments (`extra`: orcgen's own fields)."""
        from .options import Options
        kw: dict[str, object] = {_FIELD[f]: True for f in self.flags if f in _FIELD}
        kw.setdefault("orc", False)
        for h in self.hacks:
            kw["hack_" + h] = True
        # objtool walks back from each function while the gap is below --prefix;
        # zero or less creates nothing.
        kw["prefix"] = max(0, self.prefix)
        kw.update(extra)
        return Options(**kw)  # type: ignore[arg-type]


def parse(argv: list[str], env: str | None = None) -> ObjtoolArgs:
    """objtool 6.12's cmd_parse_options(): `env` (OBJTOOL_ARGS) first, then `argv`.

    Words of `env` that are not options are ignored, as objtool ignores them.
    Raises UsageError as libsubcmd would exit 129."""
    a = ObjtoolArgs()
    if argv and argv[0] == "check":           # objtool < 5.19 had subcommands
        argv = argv[1:]
    if env:
        _parse_words(env.split(" ", _ENV_WORDS - 1), ObjtoolArgs(), a)
    _parse_words(list(argv), a, a)
    return a


def _parse_words(words: list[str], sink: ObjtoolArgs, a: ObjtoolArgs) -> None:
    """parse_options_step(); files go to `sink`, options to `a`."""
    k = 0
    while k < len(words):
        w = words[k]
        k += 1
        if not w.startswith("-") or w == "-":
            sink.files.append(w)
        elif w == "--":
            sink.files.extend(words[k:])
            return
        elif w.startswith("--"):
            k = _long(a, w[2:], words, k)
        else:
            _short(a, w[1:])


def _short(a: ObjtoolArgs, group: str) -> None:
    """A `-xyz` word: one letter after another, as parse_short_opt() takes them."""
    for n, c in enumerate(group):
        if c == "h":                          # internal help, before any option lookup
            raise UsageError("")
        if c not in _SHORT:
            raise UsageError("unknown switch `%s'" % c)
        a.flags.add(_SHORT[c])
        if n == 0 and len(group) > 1:
            _check_typos(group)


def _check_typos(arg: str) -> None:
    if len(arg) < 3:
        return
    if arg.startswith("no-") or any(name.startswith(arg) for name in _DECLARED):
        raise UsageError("did you mean `--%s` (with two dashes ?)" % arg)


def _long(a: ObjtoolArgs, arg: str, words: list[str], k: int) -> int:
    """parse_long_opt() over check_options[]; returns the index of the next word."""
    name, eq, val = arg.partition("=")
    found: tuple[str, bool] | None = None         # (option, negated)
    abbrev: tuple[str, bool] | None = None
    ambiguous: tuple[str, bool] | None = None
    for opt in _DECLARED:
        if name == opt:
            found = (opt, False)
            break
        if opt.startswith("no-") and name == opt[3:]:
            found = (opt, True)
            break
        cand = None
        if opt.startswith("no-") and opt[3:].startswith(name):
            cand = (opt, True)
        elif opt.startswith(name):
            cand = (opt, False)
        elif "no-".startswith(name):
            cand = (opt, True)
        elif name.startswith("no-"):
            if name[3:] == opt:
                found = (opt, True)
                break
            if opt.startswith(name[3:]):
                cand = (opt, True)
        if cand is not None:
            if abbrev is not None:
                ambiguous = abbrev
            abbrev = cand
    if found is None:
        if ambiguous is not None and abbrev is not None:
            raise UsageError("Ambiguous option: %s (could be --%s%s or --%s%s)" % (
                arg, "no-" if ambiguous[1] else "", ambiguous[0],
                "no-" if abbrev[1] else "", abbrev[0]))
        if abbrev is None:
            raise UsageError("unknown option `%s'" % arg)
        found = abbrev
    opt, unset = found
    shown = ("no-" + opt) if unset and not opt.startswith("no-") else opt
    if unset and eq:
        raise UsageError("option `%s' takes no value" % shown)
    if opt == "hacks":                        # OPT_CALLBACK_OPTARG: parse_hacks(NULL) when unset too
        a.hacks = _merge(a.hacks, _hacks(val if eq else None))
    elif opt == "dump":
        if eq and val != "orc":
            raise UsageError("option `dump' has an invalid value")   # parse_dump() -> -1
        a.dump = True
    elif opt == "prefix":
        if unset:
            a.prefix = 0
        else:
            if not eq:
                if k >= len(words):
                    raise UsageError("option `prefix' requires a value")
                val, k = words[k], k + 1
            a.prefix = strtol10(val)
    else:
        if eq:
            raise UsageError("option `%s' takes no value" % shown)
        if unset:
            a.flags.discard(opt)
        else:
            a.flags.add(opt)
    return k


def strtol10(text: str) -> int:
    """OPT_INTEGER's `(int)strtol(text, &end, 10)` with `*end` required to be 0."""
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = len(s) - len(s.lstrip("0123456789"))
    if digits == 0:
        if text:                              # no conversion: end = text, which is not at its end
            raise UsageError("option `prefix' expects a numerical value")
        return 0
    if digits != len(s):
        raise UsageError("option `prefix' expects a numerical value")
    v = max(-(1 << 63), min((1 << 63) - 1, sign * int(s)))       # strtol saturates
    v &= 0xFFFFFFFF                                              # then the int conversion
    return v - (1 << 32) if v & 0x80000000 else v


def _merge(have: list[str], more: list[str]) -> list[str]:
    return have + [h for h in more if h not in have]


def _hacks(val: str | None) -> list[str]:
    """parse_hacks(): strstr() matching, so "jump_label,skylake" enables two."""
    if val is None:
        return list(HACKS)
    found = [h for h in HACKS if h in val]
    if not found:
        raise UsageError("option `hacks' has an invalid value")
    return found
