"""``journeysim fit --rules stages.yaml`` with a ``values:`` section: the
value streams and scores measured per rule-given stage, carried by the model
file and shown with intervals in the fit report; bad sections named with the
file's line."""

from __future__ import annotations

import re

import pytest

import journeysim as js
from journeysim.apps.cli import main as cli_main
from journeysim.apps.fit_report import fit_report
from journeysim.io.rules_file import read_rules

STAGES_YAML = """\
account: account_id
time: month
period: M
export_date: 2025-09-30
catch_all: adopting
rules:
  - {stage: churned, when: cancelled_at <= period_end, terminal: true}
  - {stage: at_risk, when: health_score < 40}
  - {stage: onboarding, when: not onboarded_at <= period_end}
  - {stage: expanded, when: seats > first(seats)}
  - {stage: value, when: key_feature_uses >= 6}
values:
  revenue: mrr
  cost_to_serve: support_cost
net:
  cost_to_serve: -1
scores:
  nps: nps
"""


@pytest.fixture
def files(tmp_path):
    export = js.datasets.saas_accounts(400, 24, seed=5, truth=True)
    export.drop(columns="true_stage").to_csv(tmp_path / "accounts.csv", index=False)
    (tmp_path / "stages.yaml").write_text(STAGES_YAML)
    return tmp_path, export


def _fit(files, *extra):
    return cli_main(
        [
            "fit",
            str(files / "accounts.csv"),
            "--rules",
            str(files / "stages.yaml"),
            "--out",
            str(files / "journey.yaml"),
            *extra,
        ]
    )


def test_values_section_is_read(files):
    spec = read_rules(files[0] / "stages.yaml")
    assert spec.value_columns == {"revenue": "mrr", "cost_to_serve": "support_cost"}
    assert spec.score_columns == {"nps": "nps"} and spec.net == {"cost_to_serve": -1}


def test_cli_measures_the_values_per_stage_and_reports_them(files, capsys):
    tmp, export = files
    code = _fit(tmp, "--html", str(tmp / "fit.html"))
    assert code == 0, capsys.readouterr().err
    spec = js.load(tmp / "journey.yaml").to_spec()
    # Rows after the export date (2025-09) are not measured: the mean MRR per
    # true stage over the months kept (the rules give the true stages here).
    kept = export[export["month"] <= "2025-09-30"]
    truth = kept.groupby("true_stage")["mrr"].mean()
    for stage in ("onboarding", "adopting", "value", "expanded", "at_risk"):
        assert spec["values"]["revenue"][stage] == pytest.approx(truth[stage], rel=0.01)
    assert spec["net"] == {"revenue": 1.0, "cost_to_serve": -1.0}
    assert set(spec["scores"]["nps"]) >= {"value", "at_risk"}
    page = (tmp / "fit.html").read_text()
    i = page.index('id="values"')
    section = page[i : page.index("</section>", i)]
    assert "Value streams" in section and "Scores" in section
    assert "95% interval" in section and "support_cost" in section
    assert re.search(r"<td>revenue</td><td>expanded</td><td>mrr</td><td>[\d,]+</td>"
                     r"<td>[\d,]+ to [\d,]+</td>", section)  # fmt: skip


def test_a_fit_without_values_has_no_values_section(files):
    _, export = files
    f = js.fit(
        export,
        customer="account_id",
        time="month",
        stage="true_stage",
        period="M",
        kind="snapshots",
        absorbing=["churned"],
    )
    assert 'id="values"' not in fit_report(f)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            STAGES_YAML.replace("revenue: mrr", "revenue: mrrr"),
            r"stages.yaml:13: values.revenue: no column 'mrrr' in accounts.csv",
        ),
        (
            STAGES_YAML.replace("nps: nps", "nps: answer"),
            r"stages.yaml:18: scores.nps: no column 'answer'",
        ),
        (
            STAGES_YAML.replace("cost_to_serve: -1", "costs: -1"),
            r"stages.yaml:16: net.costs: 'costs' is not a stream under values",
        ),
        (
            STAGES_YAML.replace("cost_to_serve: -1", "cost_to_serve: minus"),
            r"stages.yaml:16: net.cost_to_serve: a weight is a number",
        ),
        (
            STAGES_YAML.replace("  nps: nps", "  - nps"),
            r"stages.yaml:17: scores: scores: is a mapping",
        ),
    ],
)
def test_bad_values_sections_exit_2_naming_the_line(files, capsys, yaml, message):
    tmp, _ = files
    (tmp / "stages.yaml").write_text(yaml)
    code = _fit(tmp)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (tmp / "journey.yaml").exists()
