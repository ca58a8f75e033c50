"""Sphinx configuration of journeysim's documentation site (`make docs`).

The site is built from the Markdown pages of docs/ (MyST), the notebooks of
notebooks/ (MyST-NB, through the docs/notebooks link) and the docstrings of
the public names (autosummary + numpydoc). Three pages are completed at build
time so that a new page or a new public name needs no edit here:

- guides.md lists every top-level docs/*.md page that no other section claims
  (pages added by other work appear under "Guides" by themselves);
- api/_sections.md (included by api/index.md) lists every name of
  ``journeysim.__all__``, grouped by the layer that defines it, plus the
  modules ``journeysim.plot`` and ``journeysim.warnings``;
- the notebooks are found by a glob in tutorials.md.

Notebooks are rendered with the outputs they are stored with (nb_execution_mode
"off"), not executed again: tests/python/test_notebooks.py already executes
every notebook and checks that its stored outputs come from one clean run, so
executing them here would repeat that work (about 20 s for five notebooks on
this machine) inside `make test` for the same pictures.

Intersphinx links to numpy, pandas and Dask need their inventories
(objects.inv), which are fetched from the web: they are used only when
JOURNEYSIM_DOCS_INTERSPHINX=1 (`make docs INTERSPHINX=1`); offline, the names
show as plain text and the build stays free of warnings.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

# The installed package (`make docs` installs it; a worktree sets PYTHONPATH):
# the source tree alone has no compiled core.
import journeysim

DOCS = Path(__file__).resolve().parent

project = "journeysim"
author = "journeysim contributors"
copyright = "journeysim contributors"
release = journeysim.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_copybutton",
]

root_doc = "index"
exclude_patterns = [
    "_build",
    "_templates",
    "**/.ipynb_checkpoints",
    "notebooks/execute.py",
]
templates_path = ["_templates"]

# --- MyST and notebooks -------------------------------------------------------
# No dollarmath site-wide: pages write money as "$2,000"; metrics.md, the page of
# formulas, turns it on in its front matter.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 4  # GitHub-style anchors, as the pages link to each other
nb_execution_mode = "off"  # stored outputs; see the module docstring
nb_merge_streams = True

# --- API reference --------------------------------------------------------------
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
autodoc_member_order = "bysource"
# Module pages (journeysim.plot, journeysim.warnings) link to the names that are
# also top-level (journeysim.JourneyWarning) instead of documenting them twice.
# (by identity: journeysim.plot.tornado draws a chart, journeysim.tornado is
# another function).
PUBLIC_MODULES = ["journeysim.plot", "journeysim.warnings"]


def same_as_toplevel(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [
        n
        for n in module.__all__
        if n in journeysim.__all__ and getattr(journeysim, n) is getattr(module, n)
    ]


autosummary_context = {"shared": {m: same_as_toplevel(m) for m in PUBLIC_MODULES}}
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- links to numpy, pandas, Dask ---------------------------------------------
INTERSPHINX = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "dask": "https://docs.dask.org/en/stable/",
    "distributed": "https://distributed.dask.org/en/stable/",
}
if os.environ.get("JOURNEYSIM_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {name: (url, None) for name, url in INTERSPHINX.items()}
else:
    intersphinx_mapping = {}

# --- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "journeysim"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "changelog": []}

# --- pages completed at build time ----------------------------------------------
# Top-level pages that sit in a section of their own (index.md's toctrees);
# every other docs/*.md page is a guide.
PLACED = {
    "index",
    "guides",
    "tutorials",
    "getting_started",
    "coming_from",
    "heemod",
    "pydtmc",
    "metrics",
    "changelog",
    "reference",
    "algorithms",
    "reliability",
    "architecture",
    "design",
}
FIRST_GUIDES = ["concepts"]  # then the others, alphabetically
GUIDES_MARK = "% guides: filled in by conf.py"

# The layer that defines a public name -> its section of the API reference.
API_SECTIONS = [
    ("model", "Journeys, interventions and plans"),
    ("results", "Results of an analysis or a simulation"),
    ("plans", "Comparing and choosing plans"),
    ("calibrate", "Calibration from event logs"),
    ("io", "Model files"),
    ("apps", "Reports, widgets and the demo"),
    ("view", "Plots and display"),
    ("_base", "Errors, warnings and utilities"),
]


def guide_pages() -> list[str]:
    """The top-level pages of docs/ that no section of index.md claims."""
    stems = {p.stem for p in DOCS.glob("*.md")} - PLACED
    rest = sorted(stems - set(FIRST_GUIDES))
    return [s for s in FIRST_GUIDES if s in stems] + rest


def api_names() -> list[tuple[str, list[str]]]:
    """journeysim.__all__ by section (the layer that defines each name)."""
    layer_of = {}
    for name in journeysim.__all__:
        if name == "__version__" or name in {m.split(".")[1] for m in PUBLIC_MODULES}:
            continue
        module = getattr(getattr(journeysim, name), "__module__", "") or ""
        parts = module.split(".")
        # the errors say they are journeysim's own (__module__ "journeysim")
        layer_of[name] = parts[1] if len(parts) > 1 else "_base"
    sections = []
    known = {layer for layer, _ in API_SECTIONS}
    for layer, title in API_SECTIONS:
        names = sorted(n for n, x in layer_of.items() if x == layer)
        if names:
            sections.append((title, names))
    other = sorted(n for n, x in layer_of.items() if x not in known)
    if other:
        sections.append(("Other", other))
    return sections


def api_markdown() -> str:
    out = []
    for title, names in api_names():
        out += [f"## {title}", "", "```{eval-rst}", ".. currentmodule:: journeysim", ""]
        out += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
        out += [f"   {n}" for n in names] + ["```", ""]
    out += ["## Modules", "", "```{eval-rst}", ".. currentmodule:: journeysim", ""]
    out += [".. autosummary::"]
    out += ["   :toctree: generated", ""]
    out += [f"   {m.split('.')[1]}" for m in PUBLIC_MODULES] + ["```", ""]
    return "\n".join(out)


# Links between pages are written for GitHub (docs/x.md -> ../notebooks/y.ipynb);
# on the site the notebooks are the documents notebooks/y (through the
# docs/notebooks link, which MyST would resolve to its target outside docs/).
NOTEBOOK_LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)+notebooks/([\w.-]+)\.ipynb\)")


# Links to other files of the repository (../python/.../README.md) work on GitHub;
# the site has no page for them, so they become the file's path in words.
REPO_LINK = re.compile(r"\[([^\]]+)\]\(((?:\.\./)+)([^)#\s]+)\)")


def repo_link(docname: str, match: re.Match) -> str:
    target = (DOCS / docname).parent / (match.group(2) + match.group(3))
    path = target.resolve()
    if path.is_relative_to(DOCS):
        return match.group(0)
    return f"{match.group(1)} (`{path.relative_to(DOCS.parent).as_posix()}`)"


def fill_pages(app, docname: str, source: list[str]) -> None:
    text = source[0]
    if docname == "guides":
        text = text.replace(GUIDES_MARK, "\n".join(guide_pages()))
    text = NOTEBOOK_LINK.sub(r"{doc}`\1 </notebooks/\2>`", text)
    text = REPO_LINK.sub(lambda m: repo_link(docname, m), text)
    source[0] = text


def always_reread(app, env, added, changed, removed) -> list[str]:
    """The completed pages depend on files Sphinx does not track."""
    return ["guides"]


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# autosummary finds its directives by reading files before any page is parsed,
# so the API sections are a file of their own (gitignored), written here and
# included by api/index.md.
API_SECTIONS_FILE = DOCS / "api" / "_sections.md"
write_if_changed(API_SECTIONS_FILE, api_markdown())
autosummary_generate = ["api/_sections.md"]
exclude_patterns.append("api/_sections.md")


# Members public in Python but meant for the package itself say so in their
# docstring ("for the package's own use"); the reference leaves them out.
INTERNAL = re.compile(r"for (use inside the package|the package's (own )?use)", re.I)


def skip_internal(app, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if isinstance(obj, property):
        doc = (obj.fget.__doc__ if obj.fget else "") or ""
    return True if INTERNAL.search(" ".join(doc.split())) else None


def setup(app) -> None:
    app.connect("autodoc-skip-member", skip_internal)
    app.connect("source-read", fill_pages)
    app.connect("env-get-outdated", always_reread)
