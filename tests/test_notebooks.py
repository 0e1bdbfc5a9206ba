"""The notebooks run top to bottom in a real Jupyter kernel, and are committed without outputs."""
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {path.stem: path for path in sorted((ROOT / "notebooks").glob("*.ipynb"))}
CELL_TIMEOUT_S = 120
PROBE_MARK = "PROBE:"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """``python3``, started with this virtualenv's Python (installed into a private Jupyter path if needed)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        argv = KernelSpecManager().get_kernel_spec("python3").argv
        # jupyter_client runs a bare "python" as the current interpreter.
        ours = argv[0] in ("python", "python3") or Path(argv[0]).resolve() == Path(sys.executable).resolve()
    except NoSuchKernel:
        ours = False
    if not ours:
        import ipykernel.kernelspec
        prefix = tmp_path_factory.mktemp("jupyter")
        ipykernel.kernelspec.install(prefix=str(prefix), kernel_name="python3")
        os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    return "python3"


@pytest.fixture
def kernel_env(monkeypatch, tmp_path):
    """The kernel inherits the environment: a fresh data dir, embedded storage, the repository importable."""
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in ("DATABASE_URL", "REDIS_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, "")
    return monkeypatch


def execute(name: str, kernel_name: str, workdir: Path, probe: str) -> nbformat.NotebookNode:
    """Run a notebook with one extra cell at the end that prints ``PROBE:`` and a JSON object."""
    from nbclient import NotebookClient
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import json\nprint({PROBE_MARK!r} + json.dumps({probe}))"))
    NotebookClient(nb, kernel_name=kernel_name, timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def probed(nb) -> dict:
    text = "".join(output.get("text", "") for output in nb.cells[-1].outputs)
    return json.loads(text.split(PROBE_MARK, 1)[1])


def mimetypes(cell) -> set[str]:
    return {mime for output in cell.get("outputs", []) for mime in output.get("data", {})}


def html_of(cell) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.get("outputs", []))


def assert_no_errors(nb):
    for cell in nb.cells:
        assert not [o for o in cell.get("outputs", []) if o.output_type == "error"], cell.source


PROMPT_LAB_PROBE = ('{"rows": len(results), "pairs": len(set(zip(results.variant, results.question))), '
                    '"expected": len(VARIANTS) * len(QUESTIONS), "valid": int(results.valid.sum()), '
                    '"variants": list(summary.index), "own_fake": fake is not None, '
                    '"matches": list(zip(matches.how, matches.score.fillna(-1)))}')


def test_prompt_lab_uses_the_configured_provider(kernel_name, kernel_env, fake_ai, tmp_path):
    kernel_env.setenv("OPENAI_BASE_URL", fake_ai.base_url)
    kernel_env.setenv("OPENAI_API_KEY", "test")
    nb = execute("prompt_lab", kernel_name, tmp_path, PROMPT_LAB_PROBE)
    assert_no_errors(nb)
    result = probed(nb)
    assert result["rows"] == result["pairs"] == result["expected"] == result["valid"] == 12
    assert result["variants"] == ["explain-v1", "concise", "socratic"] and result["own_fake"] is False
    assert len(fake_ai.calls) == 12 + 1  # every run plus the live view went to the configured server
    assert {call["messages"][0]["content"].split("\n")[0] for call in fake_ai.calls} == {
        "You are a patient, precise maths and physics tutor for secondary-school and first-year university "
        "students."}
    live = next(cell for cell in nb.cells if "answer, dropped = watch(" in cell.source)
    assert {"text/markdown", "image/svg+xml"} <= mimetypes(live)
    markdown = next(o for o in live.outputs if "text/markdown" in o.get("data", {}))["data"]["text/markdown"]
    assert markdown.startswith("**1. ") and "$" in markdown
    table = next(cell for cell in nb.cells if cell.source.startswith("COLUMNS ="))
    assert "text/html" in mimetypes(table)


def test_prompt_lab_starts_its_own_fake_server_without_a_provider(kernel_name, kernel_env, tmp_path):
    nb = execute("prompt_lab", kernel_name, tmp_path, PROMPT_LAB_PROBE)
    assert_no_errors(nb)
    result = probed(nb)
    assert result["own_fake"] is True and result["rows"] == result["valid"] == 12
    # reworded questions: found by text, by meaning (in both languages), and a trap that would be generated
    assert result["matches"] == [["exact", 100.0], ["canonical", 100.0], ["canonical", 100.0], ["generated", -1]]


def test_class_analytics_seeds_a_demo_class_and_charts_it(kernel_name, kernel_env, tmp_path):
    probe = ('{"kpis": kpis, "days": len(daily), "top": len(top), "topics": len(topics), "points": len(points), '
             '"help": len(help_), "ratings": len(ratings), "sessions": len(detail.sessions), '
             '"csv": path.read_bytes()[:3].hex()}')
    nb = execute("class_analytics", kernel_name, tmp_path, probe)
    assert_no_errors(nb)
    result = probed(nb)
    kpis = result["kpis"]
    assert kpis["students"] == 5 and kpis["active_students"] == 5 and kpis["questions"] >= 10
    assert kpis["cache_hit_rate"] == 1.0 and kpis["ai_errors"] == 0 and 0 < kpis["completion_rate"] < 1
    assert result["days"] == 14 and result["top"] > 0 and result["topics"] > 0 and result["points"] > 0
    assert result["help"] > 0 and result["ratings"] > 0 and result["sessions"] > 0
    assert result["csv"] == "efbbbf"
    assert len([cell for cell in nb.cells if "vegaEmbed" in html_of(cell)]) == 4  # Altair's charts


def test_class_analytics_opens_an_existing_database_without_seeding(kernel_name, kernel_env, tmp_path):
    from core import create_tutor
    with create_tutor({"TUTOR_DATA_DIR": str(tmp_path / "data")}, environ={}, env_file=None) as tutor:
        teacher = tutor.accounts.register("profe@example.org", "otter-42-moss", role="teacher")
        klass = tutor.accounts.create_class(teacher, "Vacía")
    nb = execute("class_analytics", kernel_name, tmp_path, '{"class": klass.name, "kpis": kpis}')
    assert_no_errors(nb)
    result = probed(nb)
    assert result["class"] == klass.name and result["kpis"]["students"] == 0 and result["kpis"]["questions"] == 0


@pytest.mark.parametrize("name", ["prompt_lab", "class_analytics"])
def test_committed_notebooks_are_clean(name):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and "Run it" in nb.cells[0].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
