"""The Lean and shell text the Lean verifier runs. Pure functions, no I/O.

Three files are made per job (see docs/lean-jobs.md):

- ``Submission.lean``: the job's ``source``, or the grader's composition
  ``imports + theorem <name> <statement> := <proof>``.
- ``Reference.lean`` (trusted): ``imports + theorem misalign_reference <statement> :=
  sorry``; its compiled olean carries the elaborated type of the grader's statement.
- ``Check.lean`` (trusted): imports only trusted library modules, reads both oleans as
  *data* with ``readModuleData`` (the submission is never imported, so none of its
  syntax, macros, instances or initializers are live), collects the axioms of the target
  through every constant it uses, compares the target's type with the reference's, and
  reports each fact as an information message ``<nonce> <tag> <payload>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidSpec
from ..integrity.lean import header_imports
from ..jobs import LeanJob

DEFAULT_THEOREM = "misalign_target"
REFERENCE_NAME = "misalign_reference"
SUBMISSION_MODULE = "Submission"
REFERENCE_MODULE = "Reference"
WORKDIR = "/tmp/work"
ALLOWED_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_']*(\.[A-Za-z_][A-Za-z0-9_']*)*$")
_HEAD = re.compile(r"^\s*(?:theorem|lemma)\s+(?P<name>[^\s:(){}\[\]⦃⦄]+)")
_TAIL = re.compile(r":=\s*(?P<by>by)?\s*(?:sorry)?\s*$")


@dataclass(frozen=True)
class Statement:
    """A grader's statement: the part after the theorem's name and before ``:=``."""

    signature: str
    #: The name written in the statement (``theorem foo ...``), if any.
    name: str | None = None
    #: The statement ended in ``:= by``: the proof is a tactic block.
    tactic: bool = False


def split_statement(text: str) -> Statement:
    """Accept ``(x : T) : P x``, or ``theorem foo (x : T) : P x``, optionally ending in
    ``:=``, ``:= by`` or ``:= by sorry`` (as datasets often write them)."""
    s = text.strip()
    name = None
    head = _HEAD.match(s)
    if head:
        name = head.group("name")
        if not _NAME.match(name):
            raise InvalidSpec(f"statement: theorem name {name!r} is not a plain Lean name")
        s = s[head.end():]
    tactic = False
    tail = _TAIL.search(s)
    if tail:
        tactic = tail.group("by") is not None
        s = s[:tail.start()]
    s = s.strip()
    if not s:
        raise InvalidSpec("statement: nothing left after the theorem name")
    return Statement(signature=s, name=name, tactic=tactic)


def check_name(name: str, what: str = "theorem") -> str:
    if not _NAME.match(name):
        raise InvalidSpec(f"{what}: {name!r} must be dot-separated Lean identifiers")
    return name


def import_lines(imports: list[str]) -> str:
    return "".join(f"import {check_name(m, 'imports')}\n" for m in imports)


@dataclass(frozen=True)
class Plan:
    """Everything the verifier needs to run one Lean job."""

    form: str  # "statement+proof" | "source+theorem"
    theorem: str
    source: str
    #: The text the pre-filter scans (the proof, or the whole source) and the line of the
    #: compiled file where it starts, minus one.
    scanned: str
    scanned_offset: int
    statement: Statement | None
    imports: list[str]
    #: Trusted commands after the imports of the grader's files (job.preamble).
    preamble: str
    #: Modules the trusted check imports: Lean, the grader's and the submission's.
    check_imports: list[str]


def plan_job(job: LeanJob) -> Plan:
    """Compose the submission file and decide names. Raises :class:`InvalidSpec` for a
    job that can never be checked (bad names, empty statement)."""
    imports = [check_name(m, "imports") for m in job.imports]
    statement = split_statement(job.statement) if job.statement is not None else None
    if job.proof is not None:
        assert statement is not None  # the job's validator guarantees it
        theorem = check_name(job.theorem or statement.name or DEFAULT_THEOREM)
        head = import_lines(imports) + "\n" + preamble_block(job.preamble) \
            + f"theorem {theorem} {statement.signature} :="
        head += " by\n" if statement.tactic else "\n"
        source = head + job.proof + ("" if job.proof.endswith("\n") else "\n")
        return Plan(
            form="statement+proof",
            theorem=theorem,
            source=source,
            scanned=job.proof,
            scanned_offset=head.count("\n"),
            statement=statement,
            imports=imports,
            preamble=job.preamble,
            check_imports=_merge(["Lean"], imports),
        )
    assert job.source is not None and job.theorem is not None
    theorem = check_name(job.theorem)
    declared = [m for m in header_imports(job.source) if _NAME.match(m)]
    return Plan(
        form="source+theorem",
        theorem=theorem,
        source=job.source,
        scanned=job.source,
        scanned_offset=0,
        statement=statement,
        imports=imports,
        preamble=job.preamble,
        check_imports=_merge(["Lean"], imports, declared),
    )


def _merge(*lists: list[str]) -> list[str]:
    seen: list[str] = []
    for names in lists:
        for n in names:
            if n not in seen:
                seen.append(n)
    return seen


def preamble_block(preamble: str) -> str:
    text = preamble.strip("\n")
    return text + "\n\n" if text.strip() else ""


def reference_source(imports: list[str], statement: Statement, preamble: str = "") -> str:
    return (import_lines(imports) + "\n" + preamble_block(preamble)
            + f"theorem {REFERENCE_NAME} {statement.signature} :=\n  sorry\n")


def compile_script(module: str, tag: str, threads: int) -> str:
    """sh: compile ``<module>.lean`` to an olean, then print the exit status and the
    olean (base64) between markers. The frame is printed after ``lean`` has exited, so
    nothing the module prints while elaborating can come after it."""
    return (
        f"cd {WORKDIR} || exit 97\n"
        f"lean --json -j {threads} -o {WORKDIR}/{module}.olean {WORKDIR}/{module}.lean\n"
        "rc=$?\n"
        f"printf '\\n@@{tag} exit %s\\n' \"$rc\"\n"
        f"if [ \"$rc\" = 0 ] && [ -s {WORKDIR}/{module}.olean ]; then\n"
        f"  printf '@@{tag} olean-begin\\n'\n"
        f"  base64 {WORKDIR}/{module}.olean\n"
        f"  printf '@@{tag} olean-end\\n'\n"
        "fi\n"
    )


def lean_name_expr(name: str) -> str:
    """A Lean term building ``name`` component by component (no parsing at check time)."""
    expr = "Name.anonymous"
    for part in check_name(name).split("."):
        expr = f'(Name.mkStr {expr} "{part}")'
    return expr


def check_source(
    imports: list[str], theorem: str, nonce: str, *, with_reference: bool
) -> str:
    """The trusted check program (see the module docstring). Every line it reports
    starts with ``nonce``; it ends with ``<nonce> done`` when it ran to the end."""
    if not re.fullmatch(r"[0-9a-f]{16,64}", nonce):
        raise InvalidSpec("nonce must be lowercase hex")
    ref_block = (
        f'    let (_, refConsts) ← mcLoad "{WORKDIR}/{REFERENCE_MODULE}.olean"\n'
        f"    match refConsts.find? (fun c => c.name == {lean_name_expr(REFERENCE_NAME)}) with\n"
        '    | none => mcSay "error" "the reference olean lacks the reference theorem"\n'
        '    | some ref => mcSay "type" (mcCompare info ref)\n'
    ) if with_reference else ""
    return f"""{import_lines(imports)}
/-! Trusted check written by misalign-rewards. It never imports the submission: the
submission's olean is read as data, so nothing the submission defines or registers
(syntax, macros, instances, initializers) is live here. -/

open Lean Elab Command

namespace MisalignCheck

def mcSay (tag : String) (payload : String := "") : CommandElabM Unit :=
  logInfo (toMessageData ("{nonce} " ++ tag ++ " " ++ payload))

def mcLoad (path : System.FilePath) : IO (Array Import × Array ConstantInfo) := do
  let (mod, _) ← readModuleData path
  return (mod.imports, mod.constants)

def mcFind (env : Environment) (sub : NameMap ConstantInfo) (n : Name) : Option ConstantInfo :=
  match sub.find? n with
  | some c => some c
  | none => env.find? n

/-- Axioms reached from `root` through types, values (also of opaque constants) and
constructors, like `#print axioms`; names found nowhere are returned apart. -/
def mcAxioms (env : Environment) (sub : NameMap ConstantInfo) (root : Name) :
    Array Name × Array Name := Id.run do
  let mut seen : NameSet := {{}}
  let mut todo : Array Name := #[root]
  let mut axioms : Array Name := #[]
  let mut unresolved : Array Name := #[]
  while !todo.isEmpty do
    match todo.back? with
    | none => break
    | some n =>
      todo := todo.pop
      if !seen.contains n then
        seen := seen.insert n
        match mcFind env sub n with
        | none => unresolved := unresolved.push n
        | some (.axiomInfo _) => axioms := axioms.push n
        | some (.defnInfo v) => todo := todo ++ v.type.getUsedConstants ++ v.value.getUsedConstants
        | some (.thmInfo v) => todo := todo ++ v.type.getUsedConstants ++ v.value.getUsedConstants
        | some (.opaqueInfo v) => todo := todo ++ v.type.getUsedConstants ++ v.value.getUsedConstants
        | some (.quotInfo _) => pure ()
        | some (.ctorInfo v) => todo := todo ++ v.type.getUsedConstants
        | some (.recInfo v) => todo := todo ++ v.type.getUsedConstants
        | some (.inductInfo v) => todo := todo ++ v.type.getUsedConstants ++ v.ctors.toArray
  return (axioms, unresolved)

def mcKind : ConstantInfo → String
  | .axiomInfo _ => "axiom"
  | .defnInfo _ => "def"
  | .thmInfo _ => "theorem"
  | .opaqueInfo _ => "opaque"
  | .quotInfo _ => "quot"
  | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor"
  | .recInfo _ => "recursor"

/-- Same statement: same number of universe parameters and, after renaming the
submission's to the reference's, alpha-equivalent types (`==` on `Expr`; binder names
and binder annotations do not matter). -/
def mcCompare (sub ref : ConstantInfo) : String :=
  if sub.levelParams.length != ref.levelParams.length then "levels"
  else if sub.type.instantiateLevelParams sub.levelParams (ref.levelParams.map Level.param) == ref.type
  then "match" else "mismatch"

def mcRun : CommandElabM Unit := do
  let env ← getEnv
  let target := {lean_name_expr(theorem)}
  let (_, subConsts) ← mcLoad "{WORKDIR}/{SUBMISSION_MODULE}.olean"
  let mut sub : NameMap ConstantInfo := {{}}
  for c in subConsts do
    if sub.contains c.name then mcSay "duplicate" c.name.toString
    if env.contains c.name then mcSay "clash" c.name.toString
    sub := sub.insert c.name c
  match sub.find? target with
  | none => mcSay "target" "missing"
  | some info =>
    mcSay "target" "found"
    mcSay "kind" (mcKind info)
{ref_block}    let (axioms, unresolved) := mcAxioms env sub target
    for a in axioms do mcSay "axiom" a.toString
    for u in unresolved do mcSay "unresolved" u.toString

end MisalignCheck

run_cmd
  try MisalignCheck.mcRun
  catch e => MisalignCheck.mcSay "error" ((← e.toMessageData.toString).replace "\\n" " ")
  MisalignCheck.mcSay "done"
"""


__all__ = [
    "ALLOWED_AXIOMS",
    "DEFAULT_THEOREM",
    "REFERENCE_NAME",
    "Plan",
    "Statement",
    "check_name",
    "check_source",
    "compile_script",
    "lean_name_expr",
    "plan_job",
    "reference_source",
    "split_statement",
]
