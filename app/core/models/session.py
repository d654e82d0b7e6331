"""ONNX Runtime sessions: provider choice, thread count, contract check."""

from __future__ import annotations

import os
from dataclasses import dataclass

import onnxruntime as ort

from app.core.errors import ModelCorruptError, SettingsError
from app.core.models.manifest import ModelSpec, TensorSpec

PROVIDER_ALIASES = {
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
# Order of preference for "auto": DirectML on Windows, then CUDA, CoreML, CPU.
AUTO_ORDER = ("DmlExecutionProvider", "CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")
SHORT_NAMES = {v: k for k, v in PROVIDER_ALIASES.items() if k != "dml"}

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}


@dataclass(frozen=True)
class SessionConfig:
    """How to build sessions; immutable so it can be handed between threads."""

    provider: str = "auto"
    threads: int = 0  # 0 lets ONNX Runtime choose
    # idle intra-op threads busy-wait (ORT's default). The live view turns it
    # off: there the spin steals the core that the composite, capture and GUI
    # threads need (pipelined RVM at 1280x720: ~4 -> ~8.5 fps under load), while
    # a plain serial loop loses ~7 % without it.
    spinning: bool = True
    # ORT's CPU arena keeps the largest tensors it ever allocated for the session's life:
    # one 4096² image left a served RVM 2.4 GB larger for good. Long-running processes
    # that see images of any size (the HTTP service) turn it off so memory goes back.
    memory_arena: bool = True


def available_providers() -> list[str]:
    return [SHORT_NAMES.get(p, p) for p in ort.get_available_providers() if p in SHORT_NAMES]


def provider_chain(preference: str) -> list[str]:
    """The ORT provider names to try for ``preference`` ("auto", "cuda", ...).

    Raises:
        SettingsError: an unknown provider name.
    """
    available = ort.get_available_providers()
    key = preference.lower()
    if key == "auto":
        chain = [p for p in AUTO_ORDER if p in available]
    elif key in PROVIDER_ALIASES:
        wanted = PROVIDER_ALIASES[key]
        chain = [wanted] if wanted in available else []
    else:
        raise SettingsError(
            f"unknown provider '{preference}'; choose auto, {', '.join(sorted(SHORT_NAMES.values()))}"
        )
    if "CPUExecutionProvider" not in chain:
        chain.append("CPUExecutionProvider")
    return chain


def create_session(
    model: str | os.PathLike[str] | bytes, spec: ModelSpec | None, config: SessionConfig = SessionConfig()
) -> ort.InferenceSession:
    """Opens a model from a path or bytes and checks it against ``spec``'s contract.

    Raises:
        ModelCorruptError: the file does not load, or its tensors differ from the contract.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # old exporters list initialisers as inputs: one warning each
    if config.threads:
        options.intra_op_num_threads = config.threads
    if not config.spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not config.memory_arena:
        options.enable_cpu_mem_arena = False
    label = "<bytes>" if isinstance(model, bytes) else str(model)
    source = model if isinstance(model, bytes) else str(model)
    try:
        session = ort.InferenceSession(source, options, providers=provider_chain(config.provider))
    except SettingsError:
        raise
    except Exception as exc:  # ORT raises several unrelated types for a bad file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelCorruptError(f"cannot load model: {first_line}", path=label) from exc
    if spec is not None:
        check_contract(session, spec, label)
    return session


def session_provider(session: ort.InferenceSession) -> str:
    """The provider that really runs the model (short name, e.g. "cpu")."""
    used = session.get_providers()[0]
    return SHORT_NAMES.get(used, used)


def check_contract(session: ort.InferenceSession, spec: ModelSpec, label: str) -> None:
    """Raises ModelCorruptError if the session's tensors differ from the manifest contract."""
    problems = _compare("input", {i.name: i for i in session.get_inputs()}, spec.inputs)
    problems += _compare("output", {o.name: o for o in session.get_outputs()}, spec.outputs)
    if problems:
        raise ModelCorruptError(
            f"not a valid '{spec.name}' model: " + "; ".join(problems), path=label
        )


def _compare(kind: str, actual: dict, expected: tuple[TensorSpec, ...]) -> list[str]:
    problems = []
    for want in expected:
        got = actual.get(want.name)
        if got is None:
            problems.append(f"{kind} '{want.name}' is missing (has {', '.join(actual) or 'none'})")
            continue
        dtype = _ORT_DTYPES.get(got.type, got.type)
        ok_dtype = dtype in ("float32", "float16") if want.dtype == "any-float" else dtype == want.dtype
        if not ok_dtype:
            problems.append(f"{kind} '{want.name}' is {dtype}, expected {want.dtype}")
        if len(got.shape) != want.rank:
            problems.append(f"{kind} '{want.name}' has rank {len(got.shape)}, expected {want.rank}")
    return problems


def input_dtype(session: ort.InferenceSession, name: str) -> str:
    for i in session.get_inputs():
        if i.name == name:
            return _ORT_DTYPES.get(i.type, "float32")
    raise KeyError(name)
