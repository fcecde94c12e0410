"""``medvlm data build``: render N studies, write their DICOM files and ``manifest.jsonl``.

Each study gets its own random streams derived from (seed, index), so a build is reproducible and any
one study can be re-rendered from its provenance. Each study is rendered on one CT patient (a stable hash
of its id); one patient is held out of train and validation and renders the test reports again as the
``test_cross_patient`` split (``ct_patients.py``). Train and validation reports whose text equals an IU
test report's are dropped, and the duplicate text left between splits is counted in the summary.
The manifest is written to a ``.part`` file and renamed at the end: a directory has a manifest only
when its build finished.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from medvlm.corpus.iu import iu_split, load_iu_reports
from medvlm.dataset.ct_patients import (
    PatientPlan,
    atlas_loader,
    plan_patients,
    resolve_patients,
    uncovered_lungs,
    unremoved_tumours,
)
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.iu_source import iu_study
from medvlm.dataset.manifest import CROSS_PATIENT, MANIFEST, ManifestRecord, write_record
from medvlm.dataset.masks import MASKS_DIR, write_masks
from medvlm.dataset.mirror import can_mirror, mirrored_findings, mirrored_text
from medvlm.dataset.template import sample_findings, write_report
from medvlm.dataset.text_overlap import normalise_text, overlap_lines, split_overlap
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.inference.indication import from_report
from medvlm.ontology import Ontology, load_ontology
from medvlm.synth import GENERATOR
from medvlm.synth.acquisition import Acquisition
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.dicom_writer import StudyIdentity, write_dicom
from medvlm.synth.lesion_words import modifiers_for

ReportSource = Literal["iu", "template", "mixed"]
MIN_SIZE, MAX_SIZE = 64, 2048


@dataclass
class BuildSummary:
    out: Path
    written: int = 0
    splits: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # IU reports not drawable, by reason
    iu_reports_seen: int = 0
    seconds: float = 0.0
    render_seconds: float = 0.0
    oversampled: Counter = field(default_factory=Counter)  # extra train films, by the finding they were for
    mirrored: int = 0  # of the oversampled films, those drawn with left and right swapped
    rerendered: int = 0  # extra train films of every train report (train_renders - 1 each)
    dropped_test_text: Counter = field(default_factory=Counter)  # train/validation reports = a test text
    test_disagreement: int = 0  # test reports rendered from MeSH although the labeler reads more
    patients: Counter = field(default_factory=Counter)  # (split, CT patient) -> films
    left_out: dict[str, str] = field(default_factory=dict)  # CT patient -> why it was not rendered
    holdout: str | None = None
    overlap: dict = field(default_factory=dict)  # text_overlap.split_overlap of the written records

    @property
    def films_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        out = [
            f"wrote {self.written} studies to {self.out} in {self.seconds:.1f} s "
            f"({self.films_per_second:.1f} films/s overall, "
            f"{self.written / max(self.render_seconds, 1e-9):.1f} films/s per render process)",
            "splits: " + ", ".join(f"{k} {v}" for k, v in sorted(self.splits.items())),
            "report sources: " + ", ".join(f"{k} {v}" for k, v in sorted(self.sources.items())),
        ]
        if self.rerendered:
            out.append(f"extra train films, each train report rendered again on a new synthetic patient: "
                       f"{self.rerendered}")
        if self.oversampled:
            out.append(
                f"extra train films for rare findings: {sum(self.oversampled.values())} ("
                + ", ".join(f"{k} {v}" for k, v in self.oversampled.most_common())
                + f"); mirrored: {self.mirrored}"
            )
        out.append(f"cross-patient test CT patient: {self.holdout or 'none (fewer than two CT patients)'}")
        out += [f"  {split:20s} {pid:24s} {v}" for (split, pid), v in sorted(self.patients.items())]
        out += [f"  left out: {pid}: {why}" for pid, why in sorted(self.left_out.items())]
        if self.dropped_test_text:
            out.append(
                f"dropped {sum(self.dropped_test_text.values())} reports with the text of an IU test report ("
                + ", ".join(f"{k} {v}" for k, v in sorted(self.dropped_test_text.items())) + ")"
            )
        if self.test_disagreement:
            out.append(
                f"IU test reports kept from MeSH where the labeler reads more: {self.test_disagreement}"
            )
        if self.overlap:
            out.append("exact-duplicate report text between splits (normalised):")
            out += overlap_lines(self.overlap)
        if self.iu_reports_seen:
            total = sum(self.skipped.values())
            out.append(
                f"IU reports examined {self.iu_reports_seen}, skipped {total} "
                "(cannot be drawn as written, or the text of a test report)"
            )
            out += [f"  skipped {v:5d}  {k}" for k, v in self.skipped.most_common()]
        return out


@dataclass(frozen=True)
class _Plan:
    study_id: str
    split: str
    findings: list[Finding]
    findings_text: str
    impression: str
    source: str
    iu_study_id: str | None = None
    oversampled_for: str | None = None  # set on an extra train film rendered for a rare finding
    mirrored: bool = False  # an extra film of the report with left and right swapped (``mirror.py``)
    disagreement: tuple[str, ...] = ()  # test only: labels the labeler reads that MeSH does not list
    ct_patient: str = ""  # set by _assign_patients
    indication: str = ""  # the request's reason (IU: the INDICATION section, cleaned)


def test_texts() -> frozenset[str]:
    """The normalised text of every IU test-bucket report (drawable or not): never trained on."""
    return frozenset(normalise_text(r.findings, r.impression) for r in load_iu_reports(("test",)))


def _iu_plans(onto: Ontology, rng: np.random.Generator, summary: BuildSummary) -> Iterator[_Plan]:
    reports = load_iu_reports()
    forbidden = test_texts()
    order = rng.permutation(len(reports))
    usable = []
    for idx in order:  # first pass: examine every report once, count skips
        summary.iu_reports_seen += 1
        report = reports[idx]
        if report.split != "test" and normalise_text(report.findings, report.impression) in forbidden:
            summary.dropped_test_text[f"iu {report.split}"] += 1
            summary.skipped[f"text-of-a-test-report:{report.split}"] += 1
            continue
        # A test report is drawn from its MeSH truth even where the labeler reads more (recorded), so
        # the test set is not selected toward the labeler's view; train keeps only consistent pairs.
        study = iu_study(report, onto, keep_disagreement=report.split == "test")
        summary.test_disagreement += bool(study.disagreement)
        if study.findings is None:
            summary.skipped[study.skip_reason or "unknown"] += 1
            continue
        usable.append(study)
        yield _plan_from(study, 0)
    if not usable:
        raise DatasetError("no IU report can be rendered; check the ontology's renderable flags")
    repeat = 1
    while True:  # more studies than drawable reports: the same reports again, rendered anew
        for study in usable:
            yield _plan_from(study, repeat)
        repeat += 1


def _plan_from(study, repeat: int) -> _Plan:
    r = study.report
    suffix = f"-r{repeat}" if repeat else ""
    return _Plan(
        study_id=f"IU-{r.study_id}{suffix}",
        split=r.split,
        findings=study.findings,
        findings_text=r.findings,
        impression=r.impression,
        source="iu",
        iu_study_id=r.study_id,
        disagreement=study.disagreement,
        indication=from_report(r.indication),
    )


def _template_plans(
    onto: Ontology, rng: np.random.Generator, seed: int, summary: BuildSummary
) -> Iterator[_Plan]:
    forbidden = test_texts()
    index = 0
    while True:
        findings = sample_findings(onto, rng)
        text, impression = write_report(findings, onto, rng)
        study_id = f"SYN-{seed}-{index}"
        split = iu_split(study_id)
        index += 1
        if split != "test" and normalise_text(text, impression) in forbidden:
            summary.dropped_test_text[f"template {split}"] += 1
            continue
        yield _Plan(study_id, split, findings, text, impression, "template")


def _plans(reports: str, onto: Ontology, seed: int, summary: BuildSummary) -> Iterator[_Plan]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    iu = _iu_plans(onto, rng, summary) if reports in ("iu", "mixed") else None
    tpl = _template_plans(onto, rng, seed, summary) if reports in ("template", "mixed") else None
    while True:
        if iu is not None and (tpl is None or rng.random() < 0.5):
            yield next(iu)
        elif tpl is not None:
            yield next(tpl)


def build_dataset(
    out: Path,
    n: int,
    seed: int = 0,
    reports: str = "mixed",
    size: int = 512,
    overwrite: bool = False,
    progress: bool = True,
    data_dir: Path | None = None,
    workers: int = 1,
    min_positives: int = 0,
    ct: Sequence[Path] = (),
    holdout_ct: str | None = None,
    patients: Sequence[Any] | None = None,
    laterals: bool = False,
    train_renders: int = 1,
    mirror: bool = False,
    vendor_looks: bool = False,
) -> BuildSummary:
    """Render ``n`` studies into ``out``. ``workers`` > 1 renders in forked processes (same output: the
    plans are made in this process, in order, and the records come back in order).

    ``min_positives`` > 0 then renders extra train-split films of the reports of each finding that has
    fewer than that many train films (see ``_oversample``); the first ``n`` studies stay as they were.

    ``ct`` (files or folders of CT volumes, through ``ct_sources.discover``) or ``patients`` (objects with
    a ``patient_id``; a ``DefaultPatient`` renders on the default atlas) choose the CT patients, else the
    default ones; ``holdout_ct`` names the cross-patient test patient (default: POPI, when present). Each
    test-split study is rendered once more on that patient, as a ``test_cross_patient`` study.

    ``train_renders`` > 1 renders each train-split report of the first ``n`` that many times in all (new
    synthetic patient, acquisition and lesion placement each time), before the rare-finding oversampling;
    validation and test keep one film per report.

    ``mirror``: see ``_oversample``.

    ``vendor_looks``: each film draws one of two vendor processing looks and scatter models, and a wider
    framing (``Acquisition.sample(looks=True)``); a study's lateral shares its frontal's look.

    ``laterals``: each study also gets a left lateral film (the same CT seen from the side, the same
    findings, synthetic patient and detector; instance 2 of the study), as IU studies have two views.
    """
    _check_request(n, reports, size, workers, min_positives, train_renders)
    out = _prepare_out(Path(out), overwrite)
    onto = load_ontology()
    people = list(patients) if patients is not None else resolve_patients(ct)
    load = atlas_loader(data_dir)
    atlases = {p.patient_id: load(p) for p in people}  # loaded before the pool forks: shared, built once
    left_out = {**uncovered_lungs(atlases), **unremoved_tumours(atlases)}
    people = [p for p in people if p.patient_id not in left_out]
    side = atlas_loader(data_dir, "lateral") if laterals else None
    views = {p.patient_id: (atlases[p.patient_id], side(p) if side else None) for p in people}
    patient_plan = plan_patients([p.patient_id for p in people], holdout_ct)
    summary = BuildSummary(out=out, holdout=patient_plan.holdout, left_out=left_out)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    part = out / (MANIFEST + ".part")
    plan_stream = _plans(reports, onto, seed, summary)
    plans = [next(plan_stream) for _ in range(n)]
    again = _rerender(plans, train_renders)
    summary.rerendered = len(again)
    plans += again
    extra = _oversample(plans, min_positives, mirror)
    summary.oversampled = Counter(p.oversampled_for for p in extra)
    summary.mirrored = sum(p.mirrored for p in extra)
    plans += extra
    plans = _assign_patients(plans, patient_plan)
    tasks = ((plan, index, seed, size, vendor_looks, out) for index, plan in enumerate(plans))
    texts: list[tuple[str, str]] = []
    with (
        part.open("w", encoding="utf-8") as fh,
        _progress(progress, len(plans)) as advance,
        _runner(workers, views) as run,
    ):
        for record, seconds in run(tasks):
            summary.render_seconds += seconds
            write_record(fh, record, out.resolve())
            summary.written += 1
            summary.splits[record.split] += 1
            summary.sources[record.report_source] += 1
            summary.patients[(record.split, record.provenance["ct_patient"])] += 1
            texts.append((record.split, normalise_text(record.findings_text, record.impression)))
            advance()
    part.replace(out / MANIFEST)
    summary.overlap = split_overlap(texts)
    summary.seconds = time.perf_counter() - start
    return summary


def _check_request(
    n: int, reports: str, size: int, workers: int, min_positives: int, train_renders: int = 1
) -> None:
    """Refuse a bad request before anything is loaded or written."""
    if workers < 1:
        raise DatasetError(f"--workers must be at least 1, got {workers}")
    if n < 1:
        raise DatasetError(f"--n must be at least 1, got {n}")
    if reports not in ("iu", "template", "mixed"):
        raise DatasetError(f"--reports must be iu, template or mixed, got {reports!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise DatasetError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if min_positives < 0:
        raise DatasetError(f"--min-positives must be 0 or more, got {min_positives}")
    if train_renders < 1:
        raise DatasetError(f"--train-renders must be at least 1, got {train_renders}")


def _prepare_out(out: Path, overwrite: bool) -> Path:
    """The output folder, with a dataset already there removed only when ``overwrite`` says so."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a directory")
    if (out / MANIFEST).exists():
        if not overwrite:
            raise DatasetError(f"{out} already holds a dataset ({MANIFEST}); pass --overwrite to replace it")
        (out / MANIFEST).unlink()
        shutil.rmtree(out / "dicom", ignore_errors=True)
        shutil.rmtree(out / MASKS_DIR, ignore_errors=True)
    return out


def _train_positives(plans: list[_Plan]) -> Counter:
    return Counter(
        f.label
        for p in plans
        if p.split == "train"
        for f in p.findings
        if f.presence == Presence.PRESENT and f.label != NO_FINDING
    )


def _rerender(plans: list[_Plan], train_renders: int) -> list[_Plan]:
    """Each train plan again, ``train_renders - 1`` times: more films of the same reports.

    The encoder learns its 3,845 train films by heart (train-split macro-AUROC 0.82, test 0.60 after about
    15 passes); a film rendered anew is new image evidence for the same words, as real patients with the
    same report are. Measured (docs/performance.md): three renders lower the memorising (0.69 on train films)
    but, with 1,800 or 3,600 encoder steps, not the test AUROC over findings with >= 10 positives (0.640 vs
    0.639 at 3,600); the reference build keeps one render. Study ids
    get ``-tr<k>``; the film seed follows the study's index, so each render differs, and the patient follows
    the id's hash, so renders spread over the CT patients."""
    return [
        replace(p, study_id=f"{p.study_id}-tr{k}")
        for k in range(1, train_renders)
        for p in plans
        if p.split == "train"
    ]


def _oversample(plans: list[_Plan], min_positives: int, mirror: bool = False) -> list[_Plan]:
    """Extra train films for rare findings: each report of a finding with fewer than ``min_positives``
    train films is rendered again, in turn, as a new synthetic patient, until the finding has that many.

    Real report language is finite (IU has 15 train reports with a mass, 18 with a pneumothorax); the
    films need not be: a new patient, acquisition and lesion placement per film is new image evidence for
    the same words. The rarest finding goes first, and a film counts for every finding it shows, so a
    report with two rare findings is not rendered twice as often as it needs. Validation and test keep
    their natural prevalence (thresholds and metrics are measured there).

    ``mirror``: every second round over a finding's reports renders them mirrored (``mirror.py``), so
    that a finding IU reports mostly on one side is seen on both. Off by default: a model trained on it
    read the synthetic splits no better and still drafted real films' pneumothoraces on the right
    (docs/performance.md, fifteenth session).
    """
    if min_positives <= 0:
        return []
    forbidden = test_texts() if mirror else frozenset()
    counts = _train_positives(plans)
    extra: list[_Plan] = []
    for label, _ in sorted(counts.items(), key=lambda item: (item[1], item[0])):
        sources = [
            p
            for p in plans
            if p.split == "train"
            and any(f.label == label and f.presence == Presence.PRESENT for f in p.findings)
        ]
        turn = 0
        while counts[label] < min_positives:
            base = sources[turn % len(sources)]
            round_ = turn // len(sources) + 1
            plan = replace(base, study_id=f"{base.study_id}-os{round_}", oversampled_for=label)
            if mirror and round_ % 2 == 0:
                plan = _mirrored(plan, forbidden)
            extra.append(plan)
            counts.update(_train_positives([plan]))
            turn += 1
    return extra


def _mirrored(plan: _Plan, forbidden: frozenset[str]) -> _Plan:
    """``plan`` with its sides swapped, or as it was where the mirror image is not anatomy or its text
    is a test report's (test text is never trained on)."""
    if not can_mirror(plan.findings, plan.findings_text, plan.impression, plan.indication):
        return plan
    text, impression = mirrored_text(plan.findings_text), mirrored_text(plan.impression)
    if normalise_text(text, impression) in forbidden:
        return plan
    return replace(
        plan,
        study_id=f"{plan.study_id}m",
        findings=mirrored_findings(plan.findings),
        findings_text=text,
        impression=impression,
        indication=mirrored_text(plan.indication),
        mirrored=True,
    )


def _assign_patients(plans: list[_Plan], patient_plan: PatientPlan) -> list[_Plan]:
    """Each plan on a pool patient; each test plan once more on the held-out patient (cross-patient)."""
    out = [replace(p, ct_patient=patient_plan.assign(p.study_id)) for p in plans]
    if patient_plan.holdout is not None:
        out += [
            replace(p, study_id=f"{p.study_id}-xp", split=CROSS_PATIENT, ct_patient=patient_plan.holdout)
            for p in plans
            if p.split == "test"
        ]
    return out


_ATLAS: dict[str, tuple[Atlas, Atlas | None]] | None = None  # patient id -> (frontal, lateral) atlases,
# inherited by forked workers


def _task(task: tuple[_Plan, int, int, int, bool, Path]) -> tuple[ManifestRecord, float]:
    t0 = time.perf_counter()
    assert _ATLAS is not None
    record = _render_study(*task[:5], *_ATLAS[task[0].ct_patient], task[5])
    return record, time.perf_counter() - t0


@contextmanager
def _runner(workers: int, atlas: dict[str, tuple[Atlas, Atlas | None]]
            ) -> Iterator[Callable[[Iterator], Iterator]]:
    """Map render tasks in order: in this process, or in a pool of forked workers sharing the atlases."""
    global _ATLAS
    _ATLAS = atlas
    try:
        if workers == 1:
            yield lambda tasks: map(_task, tasks)
            return
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield lambda tasks: pool.imap(_task, tasks, chunksize=4)
    finally:
        _ATLAS = None  # the atlas is large: do not keep it alive after the build


def _render_study(plan: _Plan, index: int, seed: int, size: int, looks: bool, atlas: Atlas,
                  lateral_atlas: Atlas | None, out: Path) -> ManifestRecord:
    film_seed = int(np.random.SeedSequence([seed, 2, index]).generate_state(1)[0])
    # The report's own words (subtle, large, ill-defined, cannot exclude...) set how each finding is drawn.
    modifiers = modifiers_for(plan.findings, f"{plan.findings_text}\n{plan.impression}")
    film = render_film(plan.findings, seed=film_seed, size=size, atlas=atlas, modifiers=modifiers,
                       looks=looks, masks=True)
    who = StudyIdentity.synthetic(f"{seed}-{index}-{plan.study_id}", np.random.default_rng(film_seed))
    path = out / "dicom" / who.study_uid / f"{who.sop_uid}.dcm"
    write_dicom(path, film.pixels, film.pixel_spacing_mm, who, film.acquisition, plan.indication)
    masks = write_masks(out / MASKS_DIR / f"{who.sop_uid}.npz", film.masks or {})
    files, lateral_info = [path.resolve()], None
    if lateral_atlas is not None:
        lateral_path, lateral_info = _render_lateral(plan, film, film_seed, size, lateral_atlas, modifiers,
                                                     who, out, looks)
        files.append(lateral_path.resolve())
    return ManifestRecord(
        study_id=plan.study_id,
        study_instance_uid=who.study_uid,
        split=plan.split,
        files=files,
        views=["frontal", "lateral"] if lateral_info else None,
        findings=list(plan.findings),
        findings_text=plan.findings_text,
        impression=plan.impression,
        report_source=plan.source,
        indication=plan.indication or None,
        provenance={
            "seed": seed,
            "index": index,
            "film_seed": film_seed,
            "iu_study_id": plan.iu_study_id,
            "ct_patient": plan.ct_patient,
            **({"labeler_beyond_mesh": list(plan.disagreement)} if plan.disagreement else {}),
            **({"oversampled_for": plan.oversampled_for} if plan.oversampled_for else {}),
            **({"mirrored": True} if plan.mirrored else {}),
            "generator": GENERATOR,
            "size": size,
            "render": film.render_info(),
            "masks": str(masks.relative_to(out)),
            **({"render_lateral": lateral_info} if lateral_info else {}),
        },
    )


def _render_lateral(plan: _Plan, frontal: Any, film_seed: int, size: int, atlas: Atlas,
                    modifiers: Any, who: StudyIdentity, out: Path, looks: bool = False
                    ) -> tuple[Path, dict[str, Any]]:
    """The study's left lateral: the same seed (so the same sampled habitus and findings; lesion spots are
    placed in the lateral projection on their own), an erect LL acquisition on the frontal's detector and
    file format, and with ``looks`` its vendor look."""
    rng = np.random.default_rng(np.random.SeedSequence([film_seed, 7]))
    f = frontal.acquisition
    acquisition = Acquisition.sample(rng, "LL", looks=looks)
    acquisition = acquisition.with_(modality=f.modality, photometric=f.photometric, bits_stored=f.bits_stored,
                                    voi_lut=f.voi_lut, processing=f.processing)
    film = render_film(plan.findings, seed=film_seed, size=size, atlas=atlas, modifiers=modifiers,
                       acquisition=acquisition)
    second = who.image(2)
    path = out / "dicom" / who.study_uid / f"{second.sop_uid}.dcm"
    write_dicom(path, film.pixels, film.pixel_spacing_mm, second, film.acquisition, plan.indication)
    return path, film.render_info()


class _progress:
    """A rich progress bar, or nothing when progress is off."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        self._bar.__enter__()
        task = self._bar.add_task("rendering films", total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)
