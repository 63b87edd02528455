"""The safety check of a ``torch.export`` archive (``.pt2``) before ``torch.export.load`` reads it.

``torch.export.load`` (torch 2.14) is not safe on an untrusted file; its documentation says it
"uses pickle under the hood". Read in its source, a ``.pt2`` can make it:

- unpickle with full pickle: weights and tensor constants marked ``use_pickle``
  (``torch.load(..., weights_only=False)``, ``export/pt2_archive/_package.py`` 893, 951),
  "opaque" constants (``pickle.loads``, 980), torchbind objects (``torch._C._pickle_load_obj``,
  974), and the sample inputs, legacy weight/constant files and the torch 2.7 zip layout through
  ``deserialize_torch_artifact``, which retries with ``weights_only=False`` whenever
  ``weights_only=True`` fails (``_export/serde/serialize.py`` 436-441);
- load native code: AOTInductor libraries under ``data/aotinductor/`` (``_load_aoti``);
- run Python text: symbolic shape expressions go to ``sympy.sympify`` (an ``eval`` with the
  builtins; serialize.py 2423), ``ExportedProgram.module()`` ``exec``-s the archive's
  ``guards_code`` (``export/_unlift.py`` 874-886, 221), FX generates and ``exec``-s Python
  source from attribute names and stack traces, a node's target names any attribute of
  ``torch``/``operator``/``math`` (``torch.os.system`` resolves; serialize.py 2355-2378), and a
  tree spec context may name a module to import (``torch.utils._pytree.enum_object_hook``).

So leakview accepts only what ``torch.export.save`` writes for a plain classifier, and refuses
the rest before torch reads it: only the known archive entries; no payload marked pickled, no
custom or opaque objects; sample inputs that ``torch.load(weights_only=True)`` reads (the same
call torch makes first, so its pickle fallback never runs); node targets that are registered
operators (``torch.ops.*`` overloads) or the symbolic arithmetic torch.export writes, and no
subgraphs; names that are dotted identifiers; expressions in a fixed vocabulary of sympy names;
no control characters but newline and tab in any string. The caller loads the very bytes
checked here and calls ``module(check_guards=False)`` (so no guard code is executed).
"""

from __future__ import annotations

import io
import json
import keyword
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from leakview.models.checkpoint import SUPPORTED_FORMATS, refusal_reason
from leakview.models.checks import ModelLoadError

_ENTRIES = re.compile(r"archive_format|archive_version|byteorder|\.data/version"
                      r"|\.data/serialization_id|models/\w+\.json|data/sample_inputs/\w+\.pt"
                      r"|data/weights/\w+_weights_config\.json|data/weights/weight_\d+"
                      r"|data/constants/\w+_constants_config\.json|data/constants/tensor_\d+"
                      r"|extra/[\w.\-/]+", re.ASCII)
_PAYLOAD = re.compile(r"(weight|tensor)_\d+")
_DOTTED = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_SYMBOL = re.compile(r"[a-z]+\d+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\x85]")
_EXPR_TOKEN = re.compile(r"\s+|'([a-z]+\d+|-?\d+(\.\d+)?(e[+-]?\d+)?)'|\d+(\.\d+)?(e[+-]?\d+)?"
                         r"|[A-Za-z_]\w*"
                         r"|==|!=|<=|>=|\*\*|[-+*/%(),<>=~&|]", re.ASCII)
# The names a symbolic shape expression may use: the torch sympy functions the deserializer
# passes to sympify (serialize.py, sympy_functions), the sympy classes ``srepr`` writes for
# shape arithmetic, and sympy's assumption keywords. No name reaches a builtin; with no
# attribute access, subscript or string beyond a quoted symbol or number, text built from
# these can only construct sympy objects.
_EXPR_NAMES = frozenset("""
    FloorDiv ModularIndexing Where PythonMod Mod CleanDiv CeilToInt FloorToInt CeilDiv LShift
    RShift PowByNatural FloatPow FloatTrueDiv IntTrueDiv IsNonOverlappingAndDenseIndicator
    TruncToFloat TruncToInt RoundToInt RoundDecimal ToFloat Identity OpaqueUnaryFn_sqrt
    Symbol Dummy Integer Rational Float Add Mul Pow Max Min Abs floor ceiling sqrt sign
    Equality Unequality StrictLessThan LessThan StrictGreaterThan GreaterThan Eq Ne Lt Le Gt Ge
    And Or Not Xor Piecewise ExprCondPair BooleanTrue BooleanFalse true false True False
    NegativeOne One Zero Half Infinity NegativeInfinity ComplexInfinity NaN oo zoo nan
    precision algebraic commutative complex composite even extended_negative
    extended_nonnegative extended_nonpositive extended_nonzero extended_positive extended_real
    finite hermitian imaginary infinite integer irrational negative noninteger nonnegative
    nonpositive nonzero odd positive prime rational real transcendental zero""".split())
# Targets other than torch.ops overloads that torch.export writes (serialize.py, _SYM_OPS).
_SYMBOLIC_OPS = frozenset(
    [f"_operator.{name}" for name in "getitem eq ne le ge lt gt neg pos mul add sub floordiv "
     "mod pow truediv and_ or_ lshift rshift".split()]
    + [f"torch.{name}" for name in "sym_not sym_int sym_float sym_ite sym_max sym_min "
       "sym_sqrt".split()] + ["math.trunc"])
_INPUT_KINDS = {"user_input", "parameter", "buffer", "tensor_constant", "constant_input"}
_OUTPUT_KINDS = {"user_output", "buffer_mutation", "user_input_mutation"}


def check_exported_archive(path: Path, data: bytes) -> None:
    """Refuse (ModelLoadError) a ``.pt2`` archive ``data`` that ``torch.export.load`` could
    not read without pickle or without running code from the file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise _not_an_archive(path, str(error)) from None
    if len(set(names)) != len(names):  # zipfile and torch's reader may pick different ones
        raise _refusal(path, "it holds two entries of the same name")
    roots = {name.split("/", 1)[0] for name in names}
    if len(roots) != 1 or not all("/" in name for name in names):
        raise _not_an_archive(path, "its entries share no folder")
    root = roots.pop() + "/"
    entries = {name[len(root):]: name for name in names}
    if "archive_format" not in entries or archive.read(entries["archive_format"]) != b"pt2":
        raise _not_an_archive(path, "no archive_format 'pt2'")
    for entry in entries:
        if not _ENTRIES.fullmatch(entry) or ".." in entry:
            raise _refusal(path, f"it holds {entry!r}, which is not plain weights or a graph "
                                 "(compiled code, a legacy pickled payload or unknown data)")
    models = [entry[len("models/"):-len(".json")] for entry in entries
              if entry.startswith("models/")]
    if not models:
        raise ModelLoadError(path, "the torch.export archive holds no program")
    for model in models:
        for config in (f"data/weights/{model}_weights_config.json",
                       f"data/constants/{model}_constants_config.json"):
            if config in entries:
                _check_payloads(path, _json(path, archive, entries[config]))
        program = _json(path, archive, entries[f"models/{model}.json"])
        _check_program(path, program)
        sample = f"data/sample_inputs/{model}.pt"
        if sample in entries:
            _check_sample_inputs(path, archive.read(entries[sample]))


def _not_an_archive(path: Path, detail: str) -> ModelLoadError:
    return ModelLoadError(path, f"not a torch.export archive ({detail}); {SUPPORTED_FORMATS}")


def _refusal(path: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(path, f"refused: this torch.export archive could run code or "
                                f"unpickle data when loaded ({reason}); leakview never does. "
                                "Re-export a plain classifier with torch.export.save, or save "
                                "it as a leakview bundle")


def _json(path: Path, archive: zipfile.ZipFile, name: str) -> Any:
    try:
        return json.loads(archive.read(name))
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ModelLoadError(path, f"unreadable torch.export archive ({name}: {error})") from None


def _check_payloads(path: Path, config: Any) -> None:
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ModelLoadError(path, "unreadable torch.export archive (bad payload config)")
    for fqn, payload in entries.items():
        if not isinstance(payload, dict) or payload.get("use_pickle") is not False \
                or not _PAYLOAD.fullmatch(str(payload.get("path_name"))):
            raise _refusal(path, f"{fqn!r} is stored as a pickled or custom object")


def _check_sample_inputs(path: Path, data: bytes) -> None:
    if not data:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(data), weights_only=True)
    except Exception as error:  # torch.load raises many types on data it refuses
        # torch's own text advises how to load the data anyway: say why in leakview's words
        raise _refusal(path, f"its sample inputs need full pickle: the data "
                             f"{refusal_reason(str(error))}") from None


def _check_program(path: Path, program: Any) -> None:
    module = program.get("graph_module") if isinstance(program, dict) else None
    signature = module.get("signature") if isinstance(module, dict) else None
    if not isinstance(signature, dict):
        raise ModelLoadError(path, "unreadable torch.export archive (no graph signature)")
    for specs, allowed in (("input_specs", _INPUT_KINDS), ("output_specs", _OUTPUT_KINDS)):
        for spec in signature.get(specs) or []:
            kinds = set(spec) if isinstance(spec, dict) else {"?"}
            if not kinds <= allowed:
                raise _refusal(path, f"its graph has {', '.join(sorted(kinds))} "
                                     f"{specs.replace('_', ' ')} (custom objects or tokens)")
    for symbol in program.get("range_constraints") or {}:
        if not _SYMBOL.fullmatch(str(symbol)):
            raise _refusal(path, f"unexpected shape symbol {symbol!r}")
    _check_value(path, program, "", in_metadata=False)


def _check_value(path: Path, value: Any, key: str, in_metadata: bool) -> None:
    if isinstance(value, dict):
        for child_key, child in value.items():
            if child_key in ("as_graph", "as_graphs", "as_custom_obj"):
                raise _refusal(path, "its graph has subgraphs (control flow) or custom "
                                     "objects, which leakview does not read")
            _check_text(path, str(child_key), in_metadata)
            _check_value(path, child, str(child_key), in_metadata or child_key == "metadata")
    elif isinstance(value, list):
        if key == "forward_arg_names" and not all(
                isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
                for name in value):
            raise _refusal(path, f"argument names {value!r} are not Python names")
        for item in value:
            _check_value(path, item, key, in_metadata)
    elif isinstance(value, str):
        _check_text(path, value, in_metadata)
        if in_metadata:
            return
        if key in ("name", "fqn") or key.endswith("_name"):
            if value and not _DOTTED.fullmatch(value):
                raise _refusal(path, f"{key} {value!r} is not a dotted name")
        elif key in ("target", "as_operator"):
            _check_target(path, value)
        elif key == "expr_str":
            _check_expression(path, value)


def _check_text(path: Path, text: str, in_metadata: bool) -> None:
    if _CONTROL.search(text) or "__enum__" in text or (not in_metadata and "\n" in text):
        raise _refusal(path, f"a string in its graph holds control characters or an "
                             f"import: {text[:60]!r}")


def _check_target(path: Path, target: str) -> None:
    if target in _SYMBOLIC_OPS:
        return
    parts = target.split(".")
    if parts[:2] != ["torch", "ops"] or len(parts) < 4 or not all(
            part.isidentifier() and not part.startswith("__") for part in parts):
        raise _refusal(path, f"its graph calls {target!r}, which is not a torch operator")
    operator: Any = torch.ops
    try:
        for part in parts[2:]:
            operator = getattr(operator, part)
    except Exception:  # an operator this torch does not register: a clear refusal below
        operator = None
    if not isinstance(operator, torch._ops.OpOverload):
        raise ModelLoadError(path, f"the torch.export graph calls {target!r}, which this torch "
                                   "does not provide (a custom operator?)")


def _check_expression(path: Path, text: str) -> None:
    position = 0
    while position < len(text):
        match = _EXPR_TOKEN.match(text, position)
        word = match.group() if match else ""
        if not match or (word[0].isalpha() or word[0] == "_") and word not in _EXPR_NAMES \
                and not _SYMBOL.fullmatch(word):
            raise _refusal(path, f"its shape expression {text[:60]!r} is not plain arithmetic")
        position = match.end()
