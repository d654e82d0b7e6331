"""``livematte parse``: face parsing of still images (label maps, overlays, parts, part boxes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import (
    add_batch_options, add_limit_options, add_model_options, limits, load_matting_model, matting_name, provide_models,
    ranged,
)


def add_parser(commands) -> None:
    parse = commands.add_parser(
        "parse", help="face parsing: 11-class label maps, overlays, chosen parts, part boxes",
        description="Parse faces in still images. Writes <stem>.labels.png (palette PNG: pixel = class id), "
        "<stem>.overlay.png, <stem>.parts.png (cut-out of --parts) and <stem>.parse.json (part boxes, faces, timings).",
    )
    add_batch_options(parse)
    parse.add_argument(
        "--outputs", default="labels,overlay,parts,json",
        help="comma list of labels, overlay, parts, json, or all (default all)",
    )
    parse.add_argument(
        "--parts", default="head",
        help="parts for the cut-out: head, face, hair, body, background or classes such as "
        "left_eye, lips, eyes (comma list; default head). body/background also run the matting model",
    )
    parse.add_argument("--overlay-opacity", type=ranged(float, 0.0, 1.0), default=0.5, help="colour overlay opacity 0..1 (default 0.5)")
    parse.add_argument("--no-hair", action="store_true", help="skip the hair model (faster; no hair class)")
    add_model_options(parse)
    add_limit_options(parse)
    parse.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.core.matting.batch import expand_inputs, parse_outputs, run_summary
    from app.core.errors import SettingsError
    from app.core.models import SessionConfig
    from app.core.face.batch import PARSE_OUTPUTS, ParseBatch, plan_parse_jobs
    from app.core.face.parsing import HAIR_MODEL, PARSER_MODELS, PERSON_MODEL, ParserSettings, load_face_parser
    from app.core.face.parts import PartSelection
    from app.core.matting.still import StillPipeline, StillSettings

    kinds = parse_outputs(args.outputs, PARSE_OUTPUTS)
    parts = PartSelection.parse(args.parts)
    if not 0.0 <= args.overlay_opacity <= 1.0:
        raise SettingsError(f"--overlay-opacity must be between 0 and 1, got {args.overlay_opacity}")
    inputs = expand_inputs(args.inputs, args.recursive)
    if not inputs:
        raise SettingsError("no input images found")
    config = SessionConfig(args.provider, args.threads)
    provided = provide_models(
        args, list(PARSER_MODELS) + [matting_name(args)] * parts.needs_person,
        () if args.no_hair else (HAIR_MODEL, PERSON_MODEL),
    )
    hair = not args.no_hair and HAIR_MODEL not in provided.skipped
    if not args.no_hair and not hair:  # degrade: everything but the hair class still works
        print(f"livematte: warning: no hair model ({provided.skipped[HAIR_MODEL]}): the labels have no hair class; "
              "fetch it with `livematte models fetch hair`, or pass --no-hair to skip it", file=sys.stderr)
    person = hair and PERSON_MODEL not in provided.skipped
    if hair and not person:  # degrade: hair is labelled, but not kept inside the person
        print(f"livematte: warning: no person model ({provided.skipped[PERSON_MODEL]}): hair may spill onto the "
              f"background; fetch it with `livematte models fetch {PERSON_MODEL}`", file=sys.stderr)
    parser = load_face_parser(args.models_dir, config, ParserSettings(hair=hair, person=person))
    person_matte = None
    if parts.needs_person:
        pipeline = StillPipeline(load_matting_model(args), StillSettings())
        person_matte = lambda frame: pipeline.process(frame).alpha  # noqa: E731
    jobs = plan_parse_jobs(inputs, Path(args.output), kinds)
    batch = ParseBatch(parser, parts, args.overlay_opacity, args.overwrite, limits(args), person_matte)
    bar = tqdm(total=len(jobs), unit="img", disable=args.no_progress or len(jobs) < 2, file=sys.stderr)

    def progress(report) -> None:
        bar.update(1)
        if report.status != "done":
            bar.write(f"{report.status}: {report.message}", file=sys.stderr)

    summary = run_summary(batch, jobs, progress)  # type: ignore[arg-type]
    bar.close()
    print(f"{summary.line()} -> {args.output} (face parsing, {parser.detector.provider})", file=sys.stderr)
    error = summary.first_error
    return error.exit_code if error is not None else 0
