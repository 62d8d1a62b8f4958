"""Natural Scenes Dataset (NSD) loader: single-trial betas per ROI, read lazily.

The loader reads the official layout (Allen et al. 2022), relative to ``root``::

    nsddata/experiments/nsd/nsd_expdesign.mat          masterordering, subjectim, sharedix (1-based)
    nsddata/experiments/nsd/nsd_stim_info_merged.csv   one row per 73k image (cocoId, cocoSplit, ...)
    nsddata/ppdata/subjNN/<space>/roi/<atlas>.nii.gz   integer ROI labels (-1 outside brain)
    nsddata/freesurfer/subjNN/label/<atlas>.mgz.ctab   label names of each atlas
    nsddata_betas/ppdata/subjNN/<space>/<betas>/betas_sessionSS.{nii.gz,hdf5}   int16, % change x 300
    nsddata_betas/ppdata/subjNN/<space>/<betas>/ncsnr.nii.gz                  noise-ceiling SNR
    nsddata_stimuli/stimuli/nsd/annotations/instances_{train2017,val2017}.json  COCO annotations

With ``space="fsaverage"`` the betas are the surface files
``{lh,rh}.betas_sessionSS.mgh`` (vertices x 1 x 1 x trials) and the ROIs the
``nsddata/freesurfer/fsaverage/label/{lh,rh}.<atlas>.mgz`` label files; vertices
are concatenated left then right (see :mod:`neurosig.datasets.nsd_surface`).

Memory: HDF5 sessions are read in slabs of trials restricted to the ROI's
bounding box. A ``.nii.gz`` session cannot be read trial by trial without
decompressing, so it is streamed once, volume by volume, and every requested
ROI is cut out on the way and cached as a float32 ``.npy`` (written
atomically); the whole-brain time series is never held in memory. Surface
sessions (``.mgh``) are read the same way: once, in slabs of trials, every
requested ROI cut out and cached as float32 ``.npy``. The
returned matrix (trials x ROI voxels, float32) is allocated once and filled
session by session; z-scoring is done in place.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._logging import get_logger, progress
from .._validation import check_option, check_path, validate_type
from ..contracts import stable_hash
from . import nsd_surface as surf
from .nsd_stimuli import (  # ANNOTATIONS, average_repetitions: importable from here as before
    ANNOTATIONS,  # noqa: F401
    EXPDESIGN,
    STIMINFO,
    average_repetitions,
    category_presence,
    coco_categories,
    read_expdesign,
    read_stim_info,
    trial_table,
)
from .nsd_volume import _read_hdf5_roi, _stream_nifti_rois

logger = get_logger(__name__)

SPACES = ("func1pt8mm", "func1mm", "fsaverage")
SURFACE_SPACES = ("fsaverage",)
BETAS = ("betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR")
_SESSION_RE = re.compile(r"^betas_session(\d\d)\.(nii\.gz|hdf5)$")


def default_cache_dir() -> Path:
    """``$NEUROSIG_DATA/nsd_cache`` (default ``~/neurosig_data/nsd_cache``)."""
    return Path(os.environ.get("NEUROSIG_DATA", Path.home() / "neurosig_data")).expanduser() / "nsd_cache"


def read_ctab(path) -> dict[str, int]:
    """Read a FreeSurfer colour/label table (``index name [r g b a]`` per line) -> {name: index}.

    Parameters
    ----------
    path : str | Path
        Text file with one ``index name [r g b a]`` entry per line; ``#`` comment lines
        and lines whose first field is not an integer are skipped.
    """
    out = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.lstrip().startswith("#"):
            try:
                out[parts[1]] = int(parts[0])
            except ValueError:
                continue
    return out


class NSD:
    """One NSD subject: trial table, ROI masks and single-trial betas.

    Parameters
    ----------
    root : str | Path
        NSD root folder (holding ``nsddata``, ``nsddata_betas``, ``nsddata_stimuli``).
    subject : int
        Subject 1..8.
    space : {"func1pt8mm", "func1mm", "fsaverage"}
        Space of the betas: a volume space, or the fsaverage surface (``lh.``/``rh.`` ``.mgh``
        sessions; arrays then hold vertices, left hemisphere first).
    betas : {"betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR"}
        GLM version.
    cache_dir : str | Path | None
        Where ROI caches of ``.nii.gz`` and ``.mgh`` sessions go; default :func:`default_cache_dir`.
    verbose : bool
        Progress bars.

    Attributes
    ----------
    surface : bool
        True for the fsaverage space (vectors hold vertices, left hemisphere first).
    sessions : list of int
        Sessions whose betas file is present (the public release withholds the last 3);
        fsaverage: sessions with both ``lh.`` and ``rh.betas_sessionSS.mgh``.
    trials : pandas.DataFrame, shape (n_trials, 6)
        One row per present trial: ``trial`` (0-based index into ``masterordering``),
        ``session``, ``trial_in_session`` (1-based), ``nsd10k`` (1-based index into the
        subject's images), ``nsd_id`` (0-based 73k id, the ``nsdId`` of the stimulus table),
        ``shared`` (one of the shared 1,000).
    n_shared_present : int
        Shared images seen at least once in the present sessions.
    """

    def __init__(self, root, subject, space: str = "func1pt8mm",
                 betas: str = "betas_fithrf_GLMdenoise_RR", cache_dir=None, verbose: bool = True):
        self.root = check_path("root", root, kind="dir")
        for rel in (EXPDESIGN, STIMINFO):
            if not (self.root / rel).is_file():
                raise FileNotFoundError(
                    f"Invalid value for the 'root' parameter: {str(self.root)!r} is not an NSD folder; "
                    f"the expected file {rel!r} is missing.")
        validate_type("subject", subject, (int, np.integer), "int")
        check_option("subject", int(subject), range(1, 9))
        self.subject = int(subject)
        check_option("space", space, SPACES)
        check_option("betas", betas, BETAS)
        self.space, self.betas = space, betas
        self.surface = space in SURFACE_SPACES
        self.verbose = verbose
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.subj = f"subj{self.subject:02d}"
        self.roi_dir = (self.root / surf.FSAVERAGE_LABEL if self.surface
                        else self.root / "nsddata/ppdata" / self.subj / space / "roi")
        self.betas_dir = self.root / "nsddata_betas/ppdata" / self.subj / space / betas
        subj_space = self.root / "nsddata_betas/ppdata" / self.subj
        if not subj_space.is_dir():
            present = sorted(p.name for p in (self.root / "nsddata_betas/ppdata").glob("subj*"))
            raise ValueError(f"Invalid value for the 'subject' parameter: no betas for subject "
                             f"{self.subject} (expected folder {str(subj_space)!r}); subjects present: {present}.")
        if not (subj_space / space).is_dir():
            present = sorted(p.name for p in subj_space.iterdir() if p.is_dir())
            raise ValueError(f"Invalid value for the 'space' parameter: {space!r} is not present for "
                             f"{self.subj}; spaces present: {present}.")
        if not self.betas_dir.is_dir():
            present = sorted(p.name for p in (subj_space / space).iterdir() if p.is_dir())
            raise ValueError(f"Invalid value for the 'betas' parameter: {betas!r} is not present for "
                             f"{self.subj}/{space}; versions present: {present}.")
        self._files = surf.find_sessions(self.betas_dir) if self.surface else self._find_volume_sessions()
        self.sessions = sorted(self._files)
        self._read_design()
        self._roi_cache: dict[str, tuple] = {}

    def _find_volume_sessions(self) -> dict:
        files = {}
        for p in sorted(self.betas_dir.iterdir()):
            m = _SESSION_RE.match(p.name)
            if m:
                ses = int(m.group(1))
                # prefer HDF5 (trial-wise readable) when both formats are present
                if ses not in files or p.suffix == ".hdf5":
                    files[ses] = p
        if not files:
            raise FileNotFoundError(f"No betas_sessionSS.nii.gz or .hdf5 file in {str(self.betas_dir)!r}.")
        return files

    # ------------------------------------------------------------------ design
    def _read_design(self) -> None:
        self.masterordering, self.subjectim, self.sharedix = read_expdesign(self.root)  # 1-based
        n_tps = {ses: self._n_trials_in(ses) for ses in self.sessions}
        counts = set(n_tps.values())
        if len(counts) != 1:
            raise ValueError(f"Sessions of {self.subj} hold different numbers of trials: {n_tps}.")
        self.trials_per_session = counts.pop()
        self.trials = trial_table(self.masterordering, self.subjectim, self.sharedix, self.subject,
                                  {ses: self._files[ses] for ses in self.sessions}, self.trials_per_session)
        self.n_shared_present = int(self.trials.loc[self.trials.shared, "nsd_id"].nunique())
        self._stim = None
        logger.info("NSD %s %s/%s: %d sessions present, %d trials, %d distinct images, %d shared present",
                    self.subj, self.space, self.betas, len(self.sessions), len(self.trials),
                    self.trials.nsd_id.nunique(), self.n_shared_present)

    @property
    def stim_info(self):
        """The stimulus table (``nsd_stim_info_merged.csv``), one row per 73k image, indexed by ``nsdId``."""
        if self._stim is None:
            self._stim = read_stim_info(self.root)
        return self._stim

    # ------------------------------------------------------------------ sessions
    def _n_trials_in(self, ses: int) -> int:
        return int(self._session_shape(ses)[0])

    def _session_shape(self, ses: int) -> tuple[int, tuple[int, ...]]:
        """(n_trials, spatial shape (x, y, z) or vertices (n_lh, n_rh)) of a session, from headers only."""
        path = self._files[ses]
        if self.surface:
            return surf.session_shape(path, ses)
        if path.name.endswith(".hdf5"):
            import h5py

            with h5py.File(path, "r") as fh:
                if "betas" not in fh:
                    raise ValueError(f"{str(path)!r} has no dataset 'betas' (found {list(fh)}).")
                shp = fh["betas"].shape
            return shp[0], tuple(shp[1:][::-1])  # stored as trial, z, y, x
        import nibabel as nib

        hdr = nib.load(path).header
        shp = hdr.get_data_shape()
        if len(shp) != 4:
            raise ValueError(f"{str(path)!r} should be 4-D (x, y, z, trial) but has shape {shp}.")
        return shp[3], tuple(shp[:3])

    @property
    def n_vertices(self) -> dict:
        """Vertices per hemisphere of the surface betas, ``{"lh": n_lh, "rh": n_rh}`` (fsaverage only)."""
        if not self.surface:
            raise ValueError(f"n_vertices is defined for surface spaces only; this space is {self.space!r}.")
        return dict(zip(surf.HEMIS, self._session_shape(self.sessions[0])[1]))

    # ------------------------------------------------------------------ ROIs
    def atlases(self) -> list[str]:
        """Atlas names present under ``roi/`` (e.g. 'prf-visualrois', 'nsdgeneral').

        In the fsaverage space: every ``<atlas>`` with an ``lh.<atlas>.mgz`` or ``rh.<atlas>.mgz``
        under ``nsddata/freesurfer/fsaverage/label``.
        """
        if not self.roi_dir.is_dir():
            raise FileNotFoundError(f"No ROI folder {str(self.roi_dir)!r}.")
        if self.surface:
            return sorted({p.name[3:-4] for h in surf.HEMIS for p in self.roi_dir.glob(f"{h}.*.mgz")})
        return sorted(p.name[:-7] for p in self.roi_dir.glob("*.nii.gz"))

    def labels(self, atlas: str) -> dict[str, int]:
        """Label names -> integer values of an atlas, from its ``.mgz.ctab`` table.

        The table is the subject's ``nsddata/freesurfer/subjNN/label/<atlas>.mgz.ctab``; in the
        fsaverage space ``nsddata/freesurfer/fsaverage/label/<atlas>.mgz.ctab`` is read first.

        Parameters
        ----------
        atlas : str
            Atlas name, one of :meth:`atlases` (e.g. ``"prf-visualrois"``).
        """
        cands = [self.root / "nsddata/freesurfer" / self.subj / "label" / f"{atlas}.mgz.ctab"]
        if self.surface:
            cands.insert(0, self.roi_dir / f"{atlas}.mgz.ctab")
        for ctab in cands:
            if ctab.is_file():
                return {k: v for k, v in read_ctab(ctab).items() if v > 0}
        return {}

    def rois(self) -> list[str]:
        """All ROI names ``"atlas"`` (every positive label) and ``"atlas:label"``."""
        out = []
        for atlas in self.atlases():
            out.append(atlas)
            out += [f"{atlas}:{name}" for name in self.labels(atlas)]
        return out

    def roi_mask(self, roi: str):
        """Boolean mask of ``roi`` (``"atlas"`` = all labels > 0, ``"atlas:label"``, or ``"atlas:3"``).

        Parameters
        ----------
        roi : str
            ``"atlas"`` (every label > 0), ``"atlas:label"`` (a label name of the atlas's
            ``.ctab`` table) or ``"atlas:3"`` (a label value); one of :meth:`rois` or an
            atlas with a numeric label.

        Returns
        -------
        mask : nibabel.Nifti1Image | dict
            Volume spaces: uint8 image, 1 inside the ROI. fsaverage: ``{"lh": bool array (n_lh,),
            "rh": bool array (n_rh,)}`` from ``{lh,rh}.<atlas>.mgz``.
        """
        import nibabel as nib

        validate_type("roi", roi, str)
        atlas, _, label = roi.partition(":")
        if atlas not in self.atlases() or not label.isdigit():
            check_option("roi", roi, self.rois())
        value = None if not label else int(label) if label.isdigit() else self.labels(atlas)[label]
        pick = (lambda d: d > 0) if value is None else (lambda d: d == value)
        if self.surface:
            masks = {}
            for h in surf.HEMIS:
                path = self.roi_dir / f"{h}.{atlas}.mgz"
                if not path.is_file():
                    raise FileNotFoundError(f"ROI {roi!r}: the label file {str(path)!r} is missing "
                                            f"(both hemispheres are needed).")
                masks[h] = pick(surf.read_surface_vector(path))
            if not any(m.any() for m in masks.values()):
                raise ValueError(f"ROI {roi!r} is empty in lh./rh.{atlas}.mgz.")
            return masks
        img = nib.load(self.roi_dir / f"{atlas}.nii.gz")
        mask = pick(np.asarray(img.dataobj))
        if not mask.any():
            raise ValueError(f"ROI {roi!r} is empty in {atlas}.nii.gz.")
        return nib.Nifti1Image(mask.astype(np.uint8), img.affine)

    def masker(self, roi: str):
        """Maps ROI vectors <-> images: a fitted :class:`nilearn.maskers.NiftiMasker` (volume spaces)
        or a :class:`~neurosig.datasets.nsd_surface.SurfaceROIMasker` (fsaverage).

        Parameters
        ----------
        roi : str
            ROI name, as for :meth:`roi_mask`.
        """
        if self.surface:
            return surf.SurfaceROIMasker(self.roi_mask(roi), roi)
        from nilearn.maskers import NiftiMasker

        return NiftiMasker(mask_img=self.roi_mask(roi), standardize=None).fit()

    def _roi_index(self, roi: str):
        """(mask, affine, key, masker): mask (x, y, z) bool with voxels in nilearn's masker order,
        or for fsaverage the (n_lh + n_rh,) bool vertex mask (left then right) and affine None."""
        if roi not in self._roi_cache and self.surface:
            masker = self.masker(roi)
            key = stable_hash({"roi": roi, "lh": np.flatnonzero(masker.masks["lh"]).tolist(),
                               "rh": np.flatnonzero(masker.masks["rh"]).tolist(),
                               "n": [masker.n_vertices[h] for h in surf.HEMIS]}, length=12)
            self._roi_cache[roi] = (masker.mask_, None, key, masker)
        if roi not in self._roi_cache:
            masker = self.masker(roi)
            mask = np.asarray(masker.mask_img_.dataobj).astype(bool)
            key = stable_hash({"roi": roi, "vox": np.flatnonzero(mask).tolist(), "shape": mask.shape}, length=12)
            self._roi_cache[roi] = (mask, masker.mask_img_.affine, key, masker)
        return self._roi_cache[roi]

    # ------------------------------------------------------------------ betas
    def _check_shape(self, ses: int, roi: str) -> None:
        _, spatial = self._session_shape(ses)
        mask, _, _, masker = self._roi_index(roi)
        if self.surface:
            labels = tuple(masker.n_vertices[h] for h in surf.HEMIS)
            if tuple(spatial) != labels:
                atlas = roi.partition(":")[0]
                raise ValueError(f"Surface betas of session {ses} ({self._files[ses]['lh'].name!r}, "
                                 f"{self._files[ses]['rh'].name!r}) have {tuple(spatial)} vertices (lh, rh) "
                                 f"but the label files lh./rh.{atlas}.mgz have {labels}: betas and labels "
                                 f"must come from the same surface.")
            return
        if tuple(spatial) != tuple(mask.shape):
            raise ValueError(f"Betas file {self._files[ses].name!r} has spatial shape {tuple(spatial)} "
                             f"(x, y, z) but the ROI mask has shape {tuple(mask.shape)}: betas and ROIs "
                             f"must come from the same subject and space.")

    def _cache_path(self, ses: int, roi: str) -> Path:
        _, _, key, _ = self._roi_index(roi)
        src = self._files[ses]
        stats = [{"file": str(f.resolve()), "size": f.stat().st_size, "mtime": int(f.stat().st_mtime)}
                 for f in ([src[h] for h in surf.HEMIS] if self.surface else [src])]
        tag = stable_hash(stats if self.surface else stats[0], length=8)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", roi)
        return (self.cache_dir / self.subj / self.space / self.betas / f"{slug}-{key}"
                / f"betas_session{ses:02d}-{tag}.npy")

    def _cached(self, ses: int) -> bool:
        """Whether a session is read through the per-ROI cache (``.nii.gz`` and surface ``.mgh``)."""
        return self.surface or self._files[ses].name.endswith(".nii.gz")

    def prepare(self, rois, sessions=None) -> None:
        """Cache the listed ROIs of every ``.nii.gz`` (or surface ``.mgh``) session, reading each session once.

        HDF5 sessions need no cache (they are read trial-wise).

        Parameters
        ----------
        rois : str | list of str
            ROI name(s), as for :meth:`roi_mask`.
        sessions : int | list of int | None
            Sessions to cache (default: every session of the subject).
        """
        rois = [rois] if isinstance(rois, str) else list(rois)
        sessions = self._check_sessions(sessions)
        todo = []
        for ses in sessions:
            if self._cached(ses):
                missing = [r for r in rois if not self._cache_path(ses, r).is_file()]
                if missing:
                    todo.append((ses, missing))
        for r in rois:
            for ses in sessions:
                self._check_shape(ses, r)
        for ses, missing in progress(todo, desc=f"NSD {self.subj} {'read' if self.surface else 'decompress'}",
                                     verbose=self.verbose, unit="session"):
            masks = [self._roi_index(r)[0] for r in missing]
            if self.surface:
                arrays = surf.stream_mgh_rois(self._files[ses], masks, self._session_shape(ses)[1][0])
            else:
                arrays = _stream_nifti_rois(self._files[ses], masks)
            for r, arr in zip(missing, arrays):
                path = self._cache_path(ses, r)
                with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                    np.save(fh, arr)

    def _check_sessions(self, sessions):
        if sessions is None:
            return list(self.sessions)
        sessions = [int(s) for s in np.atleast_1d(sessions)]
        for s in sessions:
            check_option("sessions", s, self.sessions)
        return sessions

    def get_betas(self, roi: str, sessions=None, zscore: bool = False, average: bool = False):
        """Single-trial (or repetition-averaged) betas of one ROI in percent signal change.

        Parameters
        ----------
        roi : str
            ``"atlas"`` or ``"atlas:label"`` (see :meth:`rois`).
        sessions : list of int | None
            Sessions to load (default: all present).
        zscore : bool
            Z-score every voxel within each session (before averaging).
        average : bool
            Average the repetitions of each image (rows become images).

        Returns
        -------
        X : ndarray, shape (n_trials, n_voxels) or (n_images, n_voxels), float32
            Voxels (or vertices, left hemisphere first) in the order of :meth:`masker`
            (``masker(roi).inverse_transform(X)`` maps back).
        info : pandas.DataFrame
            The matching rows of :attr:`trials`; with ``average`` one row per image with
            ``nsd_id``, ``shared``, ``n_reps`` and ``first_session``.
        """
        sessions = self._check_sessions(sessions)
        mask, _, _, _ = self._roi_index(roi)
        for ses in sessions:
            self._check_shape(ses, roi)
        self.prepare([roi], sessions)
        info = self.trials[self.trials.session.isin(sessions)].reset_index(drop=True)
        n_vox = int(mask.sum())
        X = np.empty((len(info), n_vox), dtype=np.float32)
        row = 0
        for ses in sessions:
            n = self.trials_per_session
            block = X[row:row + n]
            if self._cached(ses):
                block[:] = np.load(self._cache_path(ses, roi), mmap_mode="r")
            else:
                _read_hdf5_roi(self._files[ses], mask, out=block)
            if zscore:
                _zscore_inplace(block)
            row += n
        if average:
            X, info = average_repetitions(X, info)
        return X, info

    def ncsnr(self, roi: str) -> np.ndarray:
        """Noise-ceiling SNR of the ROI voxels, shape (n_voxels,); NaN-free, from ``ncsnr.nii.gz``
        (fsaverage: ``lh.ncsnr.mgh`` and ``rh.ncsnr.mgh`` next to the betas, left then right).

        Parameters
        ----------
        roi : str
            ROI name, as for :meth:`roi_mask`.
        """
        import nibabel as nib

        if self.surface:
            mask = self._roi_index(roi)[0]
            parts = []
            for h in surf.HEMIS:
                path = self.betas_dir / f"{h}.ncsnr.mgh"
                if not path.is_file():
                    raise FileNotFoundError(f"No noise-ceiling map {str(path)!r}.")
                parts.append(surf.read_surface_vector(path).astype(np.float32))
            data = np.concatenate(parts)
            if data.size != mask.size:
                raise ValueError(f"lh./rh.ncsnr.mgh have {[p.size for p in parts]} vertices but the ROI "
                                 f"label files have {mask.size} in all.")
            return np.nan_to_num(data[mask])
        path = self.betas_dir / "ncsnr.nii.gz"
        if not path.is_file():
            raise FileNotFoundError(f"No noise-ceiling map {str(path)!r}.")
        mask = self._roi_index(roi)[0]
        data = np.asarray(nib.load(path).dataobj, dtype=np.float32)
        if data.shape[:3] != mask.shape:
            raise ValueError(f"ncsnr.nii.gz has shape {data.shape} but the ROI mask has {mask.shape}.")
        return np.nan_to_num(data[mask])

    # ------------------------------------------------------------------ stimuli
    def coco_categories(self) -> dict[int, list[str]]:
        """COCO category names per 73k image (``nsdId`` -> sorted names), from the instance annotations.

        Matched through the stimulus table's ``cocoId`` and ``cocoSplit``; the parsed map is cached
        (JSON, atomic) because the real annotation files are large.
        """
        labels, self._supercats = coco_categories(self.root, self.cache_dir / "coco_categories.json",
                                                  stim=self._stim)
        return labels

    def coco_labels(self, categories, nsd_ids) -> np.ndarray:
        """Presence (0/1) of each category (or supercategory) in each image.

        Parameters
        ----------
        categories : list of str
            COCO category names (``"person"``) or supercategories (``"animal"``).
        nsd_ids : array of int, shape (n_images,)
            0-based 73k ids.

        Returns
        -------
        Y : ndarray, shape (n_images, n_categories), int8
        """
        return category_presence(self.coco_categories(), self._supercats, categories, nsd_ids)


# ---------------------------------------------------------------------- functional core
def _zscore_inplace(block: np.ndarray, chunk: int = 1024) -> None:
    """Z-score the columns of ``block`` (n_trials, n_voxels) in place; float64 temporaries stay small."""
    for c in range(0, block.shape[1], chunk):
        sub = block[:, c:c + chunk]
        mean = sub.mean(axis=0, dtype=np.float64)
        std = sub.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        sub -= mean.astype(block.dtype)
        sub /= std.astype(block.dtype)
