"""NSD surface (fsaverage) preparation: ``.mgh`` betas, ``.mgz`` ROI labels, ROI masker, meshes.

Layout read by :class:`neurosig.datasets.NSD` with ``space="fsaverage"`` (relative to the NSD root)::

    nsddata_betas/ppdata/subjNN/fsaverage/<betas>/lh.betas_sessionSS.mgh   (vertices, 1, 1, trials)
    nsddata_betas/ppdata/subjNN/fsaverage/<betas>/rh.betas_sessionSS.mgh
    nsddata_betas/ppdata/subjNN/fsaverage/<betas>/{lh,rh}.ncsnr.mgh        (vertices, 1, 1), optional
    nsddata/freesurfer/fsaverage/label/{lh,rh}.<atlas>.mgz                 integer labels (vertices, 1, 1)
    nsddata/freesurfer/fsaverage/label/<atlas>.mgz.ctab                    label names (else the
                                                                           subject's label/<atlas>.mgz.ctab)
    nsddata/freesurfer/fsaverage/surf/{lh,rh}.inflated                     meshes (for plots only)

Vertices of the two hemispheres are always concatenated **left then right**: a
vector over a surface ROI holds the ROI's left-hemisphere vertices in ascending
vertex order, then its right-hemisphere vertices in ascending order
(:class:`SurfaceROIMasker` maps back).

Scaling: the value type is read from each ``.mgh`` header. Integer betas are
treated like NSD's volume files (int16 = percent signal change x 300, divided
by 300); floating-point betas are taken as percent signal change already
(public reports of the released fsaverage files give big-endian float32,
values of a few percent; no real file could be checked on this machine).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._logging import get_logger

logger = get_logger(__name__)

HEMIS = ("lh", "rh")
#: NSD's int16 betas store percent signal change x 300
BETA_SCALE = 300.0
FSAVERAGE_LABEL = "nsddata/freesurfer/fsaverage/label"
FSAVERAGE_SURF = "nsddata/freesurfer/fsaverage/surf"
#: surface names accepted for nilearn's bundled fsaverage5 -> its file keys
_NILEARN_FSAVERAGE5 = {"inflated": "infl", "pial": "pial", "white": "white", "sphere": "sphere", "flat": "flat"}


def mgh_shape(path) -> tuple[int, int]:
    """(n_vertices, n_frames) of a surface ``.mgh``/``.mgz`` file, from its header only.

    Surface files are stored as (vertices, 1, 1[, frames]); anything else is refused.

    Parameters
    ----------
    path : str | Path
        FreeSurfer ``.mgh`` or ``.mgz`` file.
    """
    import nibabel as nib

    shp = tuple(int(s) for s in nib.load(path).header.get_data_shape())
    if len(shp) not in (3, 4) or shp[1:3] != (1, 1):
        raise ValueError(f"{str(path)!r} is not a surface file: expected shape (vertices, 1, 1[, frames]) "
                         f"but the header gives {shp}.")
    return shp[0], (shp[3] if len(shp) == 4 else 1)


def find_sessions(betas_dir: Path) -> dict:
    """Surface sessions of a betas folder: ``{session: {"lh": path, "rh": path}}``.

    A session with one hemisphere only, or no ``.mgh`` session at all, is an error.

    Parameters
    ----------
    betas_dir : str | Path
        Folder holding ``lh.betas_sessionSS.mgh`` and ``rh.betas_sessionSS.mgh`` files.
    """
    import re

    pattern = re.compile(r"^(lh|rh)\.betas_session(\d\d)\.mgh$")
    found: dict[int, dict] = {}
    for p in sorted(Path(betas_dir).iterdir()):
        m = pattern.match(p.name)
        if m:
            found.setdefault(int(m.group(2)), {})[m.group(1)] = p
    if not found:
        raise FileNotFoundError(f"No lh./rh.betas_sessionSS.mgh file in {str(betas_dir)!r}.")
    for ses, pair in found.items():
        for h in HEMIS:
            if h not in pair:
                raise FileNotFoundError(
                    f"Surface betas of session {ses} are incomplete: "
                    f"{str(Path(betas_dir) / f'{h}.betas_session{ses:02d}.mgh')!r} is missing "
                    f"({next(iter(pair.values())).name!r} is present); both hemispheres are needed.")
    return found


def session_shape(pair: dict, ses: int) -> tuple[int, tuple[int, int]]:
    """(n_trials, (n_lh, n_rh)) of one surface session, from the two headers; mismatches are errors.

    Parameters
    ----------
    pair : dict
        ``{"lh": path, "rh": path}`` of one session, as returned by :func:`find_sessions`.
    ses : int
        Session number (for error messages).
    """
    shp = {h: mgh_shape(pair[h]) for h in HEMIS}
    if shp["lh"][1] != shp["rh"][1]:
        raise ValueError(f"Session {ses}: {pair['lh'].name!r} holds {shp['lh'][1]} trials but "
                         f"{pair['rh'].name!r} holds {shp['rh'][1]}.")
    if shp["lh"][0] != shp["rh"][0]:  # fsaverage hemispheres have equal vertex counts
        raise ValueError(f"Session {ses}: {pair['lh'].name!r} has {shp['lh'][0]} vertices but "
                         f"{pair['rh'].name!r} has {shp['rh'][0]}; fsaverage hemispheres have "
                         f"the same number of vertices.")
    return shp["lh"][1], (shp["lh"][0], shp["rh"][0])


def read_surface_vector(path) -> np.ndarray:
    """A per-vertex map (``.mgh``/``.mgz``, shape (vertices, 1, 1[, 1])) as a 1-D array, shape (n_vertices,).

    Parameters
    ----------
    path : str | Path
        FreeSurfer ``.mgh`` or ``.mgz`` file with a single frame.
    """
    import nibabel as nib

    n, frames = mgh_shape(path)
    if frames != 1:
        raise ValueError(f"{str(path)!r} holds {frames} frames; a single per-vertex map was expected.")
    return np.asarray(nib.load(path).dataobj).reshape(n)


def beta_scale(dtype) -> float:
    """Factor turning stored betas into percent signal change: 1/300 for integers, 1 for floats.

    Parameters
    ----------
    dtype : numpy dtype or dtype-like
        Data type of the stored betas.
    """
    return 1.0 / BETA_SCALE if np.issubdtype(np.dtype(dtype), np.integer) else 1.0


class SurfaceROIMasker:
    """Maps ROI vectors <-> per-hemisphere vertex arrays on a surface (the surface analogue of
    nilearn's ``NiftiMasker`` for this loader; no mesh needed).

    Parameters
    ----------
    masks : dict
        ``{"lh": bool array (n_lh,), "rh": bool array (n_rh,)}``.
    roi : str
        ROI name (for messages).

    Attributes
    ----------
    mask_ : ndarray of bool, shape (n_lh + n_rh,)
        Left then right hemisphere.
    n_vertices : dict
        Vertices per hemisphere.
    n_features : int
        Vertices inside the ROI (left first, each hemisphere in ascending vertex order).
    """

    def __init__(self, masks: dict, roi: str = ""):
        self.masks = {h: np.asarray(masks[h], dtype=bool).ravel() for h in HEMIS}
        self.roi = roi
        self.n_vertices = {h: int(self.masks[h].size) for h in HEMIS}
        self.mask_ = np.concatenate([self.masks[h] for h in HEMIS])
        self.n_features = int(self.mask_.sum())
        self._split = int(self.masks["lh"].sum())

    def transform(self, data: dict) -> np.ndarray:
        """Per-hemisphere data -> ROI matrix.

        Parameters
        ----------
        data : dict
            ``{"lh": array (n_lh,) or (n_samples, n_lh), "rh": ...}``.

        Returns
        -------
        X : ndarray, shape (n_samples, n_features)
        """
        parts = []
        for h in HEMIS:
            a = np.atleast_2d(np.asarray(data[h]))
            if a.shape[-1] != self.n_vertices[h]:
                raise ValueError(f"{h} data have {a.shape[-1]} vertices but the ROI mask {self.roi!r} "
                                 f"has {self.n_vertices[h]}.")
            parts.append(a[:, self.masks[h]])
        return np.concatenate(parts, axis=1)

    def inverse_transform(self, X) -> dict:
        """ROI vector(s) -> per-hemisphere arrays (zero outside the ROI).

        Parameters
        ----------
        X : ndarray, shape (n_features,) or (n_samples, n_features)

        Returns
        -------
        maps : dict
            ``{"lh": (n_lh,) or (n_samples, n_lh), "rh": ...}``, float32.
        """
        X = np.asarray(X, dtype=np.float32)
        one = X.ndim == 1
        X = np.atleast_2d(X)
        if X.shape[1] != self.n_features:
            raise ValueError(f"got {X.shape[1]} values but the ROI {self.roi!r} has {self.n_features} vertices.")
        out = {}
        for h, cols in zip(HEMIS, (X[:, :self._split], X[:, self._split:])):
            full = np.zeros((X.shape[0], self.n_vertices[h]), np.float32)
            full[:, self.masks[h]] = cols
            out[h] = full[0] if one else full
        return out


def stream_mgh_rois(paths: dict, masks: list[np.ndarray], n_lh: int, chunk: int = 64) -> list[np.ndarray]:
    """Read one session (``lh`` + ``rh`` ``.mgh``) once, in slabs of trials, and cut out every ROI.

    Parameters
    ----------
    paths : dict
        ``{"lh": path, "rh": path}`` of ``(vertices, 1, 1, trials)`` files.
    masks : list of ndarray of bool, shape (n_lh + n_rh,)
        ROI masks, left then right hemisphere.
    n_lh : int
        Left-hemisphere vertices.
    chunk : int
        Trials per slab (a slab spans the ROIs' vertex range of one hemisphere).

    Returns
    -------
    betas : list of ndarray, shape (n_trials, n_roi_vertices), float32
        Percent signal change, columns left then right (:class:`SurfaceROIMasker` order).
    """
    import nibabel as nib

    n_trials = mgh_shape(paths["lh"])[1]
    out = [np.empty((n_trials, int(m.sum())), dtype=np.float32) for m in masks]
    col0 = [0] * len(masks)
    for h in HEMIS:
        proxy = nib.load(paths[h]).dataobj
        part = [m[:n_lh] if h == "lh" else m[n_lh:] for m in masks]
        idx = [np.flatnonzero(p) for p in part]
        used = [i for i in idx if i.size]
        if not used:
            continue
        lo = int(min(i.min() for i in used))
        hi = int(max(i.max() for i in used)) + 1
        scale = np.float32(beta_scale(proxy.dtype))
        for t in range(0, n_trials, chunk):
            k = min(chunk, n_trials - t)
            slab = np.asarray(proxy[lo:hi, 0, 0, t:t + k])  # (hi - lo, k), stored dtype
            for j, (i, o) in enumerate(zip(idx, out)):
                if i.size:
                    o[t:t + k, col0[j]:col0[j] + i.size] = slab[i - lo].T.astype(np.float32) * scale
        col0 = [c + i.size for c, i in zip(col0, idx)]
    return out


def load_mesh(mesh, surface: str = "inflated") -> dict:
    """Surface meshes of both hemispheres, for plotting.

    Parameters
    ----------
    mesh : str | Path
        A folder holding FreeSurfer geometry files ``lh.<surface>`` and ``rh.<surface>``
        (or ``.gii`` versions), e.g. NSD's ``nsddata/freesurfer/fsaverage/surf``; or
        ``"fsaverage5"`` for nilearn's bundled fsaverage5 (10,242 vertices per
        hemisphere; nothing is downloaded).
    surface : str
        Which surface (``"inflated"``, ``"pial"``, ``"white"``, ``"sphere"``, ...).

    Returns
    -------
    meshes : dict
        ``{"lh": (coords (n_lh, 3), faces (n_faces, 3)), "rh": ...}``.
    """
    if str(mesh) == "fsaverage5":
        from nilearn.datasets import fetch_surf_fsaverage

        if surface not in _NILEARN_FSAVERAGE5:
            raise ValueError(f"Invalid value for the 'mesh_surface' parameter. Allowed values for nilearn's "
                             f"fsaverage5 are {sorted(_NILEARN_FSAVERAGE5)}, but got {surface!r} instead.")
        files = fetch_surf_fsaverage("fsaverage5")  # bundled with nilearn: read from its package data
        key = _NILEARN_FSAVERAGE5[surface]
        paths = {"lh": files[f"{key}_left"], "rh": files[f"{key}_right"]}
    else:
        folder = Path(mesh).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"Invalid value for the 'mesh' parameter: {str(folder)!r} is not a folder "
                                    f"(expected one holding lh.{surface} and rh.{surface}, or 'fsaverage5').")
        paths = {}
        for h in HEMIS:
            cands = [folder / f"{h}.{surface}", folder / f"{h}.{surface}.gii", folder / f"{h}.{surface}.surf.gii"]
            found = [c for c in cands if c.is_file()]
            if not found:
                raise FileNotFoundError(f"Invalid value for the 'mesh' parameter: the mesh file "
                                        f"{str(cands[0])!r} (or .gii) is missing.")
            paths[h] = found[0]
    out = {}
    for h, p in paths.items():
        if str(p).endswith(".gii") or str(p).endswith(".gii.gz"):
            from nilearn import surface as nsurf

            m = nsurf.load_surf_mesh(str(p))
            out[h] = (np.asarray(m.coordinates), np.asarray(m.faces))
        else:
            import nibabel as nib

            coords, faces = nib.freesurfer.read_geometry(str(p))
            out[h] = (np.asarray(coords), np.asarray(faces))
    return out


def check_mesh(meshes: dict, n_vertices: dict, mesh_name) -> None:
    """Refuse a mesh whose vertex count differs from the data's, per hemisphere.

    Parameters
    ----------
    meshes : dict
        ``{"lh": (coords, faces), "rh": (coords, faces)}``, as returned by :func:`load_mesh`;
        ``coords`` has shape (n_vertices, 3).
    n_vertices : dict
        ``{"lh": int, "rh": int}``, the data's vertex count per hemisphere.
    mesh_name : str | Path | dict
        The mesh as the user gave it (for the error message).
    """
    for h in HEMIS:
        n_mesh = int(meshes[h][0].shape[0])
        if n_mesh != n_vertices[h]:
            hint = (" nilearn's bundled 'fsaverage5' fits only fsaverage5 data (10,242 vertices per hemisphere);"
                    if str(mesh_name) == "fsaverage5" else "")
            raise ValueError(f"Invalid value for the 'mesh' parameter: the {h} mesh of {str(mesh_name)!r} has "
                             f"{n_mesh} vertices but the surface betas have {n_vertices[h]}.{hint} Pass the "
                             f"folder of the matching fsaverage surfaces (NSD ships them under {FSAVERAGE_SURF}).")
