"""hisguard.report: HTML (zh/en, every article, failures first), JUnit XML, JSON; the `report` command."""

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from hisguard.cli import main
from hisguard.report import render
from hisguard.results import Result, ResultSet
from hisguard.store import Store


@dataclass
class FakeControl:
    """The parts of hisguard.catalog.Control that reports use."""

    id: str
    implementation: str
    title_zh: str
    title_en: str
    checked_by: list[str] = field(default_factory=list)

    def title(self, lang):
        return self.title_zh if lang == "zh" else self.title_en

    @property
    def needs_attestation(self):
        return self.implementation in ("manual", "organizational")


class FakeCatalog:
    def __init__(self, controls):
        self.controls = {control.id: control for control in controls}

    def get(self, control_id):
        return self.controls.get(control_id)


CATALOG = FakeCatalog(
    [
        FakeControl(
            "P1.3.6", "automated", "禁止使用U盘等移动存储", "No USB storage", ["hisguard.infosec.usb"]
        ),
        FakeControl("P1.3.8", "automated", "安装防病毒软件", "Antivirus installed", ["hisguard.infosec.av"]),
        FakeControl("P1.3.9", "automated", "内网与互联网物理隔离", "Intranet isolated from the Internet"),
        FakeControl(
            "P2.1.3", "manual", "外来人员进入机房须登记", "Visitors to the machine room are registered"
        ),
        FakeControl("P3.8.5", "partial", "定期模拟恢复", "Periodic simulated restore"),
    ]
)
VALID = {
    "control": "P3.8.5",
    "hosts": ["db-01"],
    "groups": [],
    "reason": "季度演练改期",
    "approver": "信息科 王主任",
    "ticket": "OA-2025-0412",
    "expires": "2099-12-31",
}
EXPIRED = {
    "control": "P1.3.6",
    "hosts": [],
    "groups": ["radiology"],
    "reason": "PACS 光盘导入",
    "approver": "CIO",
    "ticket": "OA-2023-0099",
    "expires": "2024-01-31",
}


def audit_results():
    return [
        Result("ws-01", "P1.3.6", "pass", observed="install usb-storage /bin/false", expected="blocked"),
        Result("ws-01", "P1.3.8", "pass", observed="clamav 1.0.7, signatures 2025-06-01"),
        Result(
            "ws-02",
            "P1.3.6",
            "fail",
            observed="usb-storage loaded",
            expected="blocked",
            remediation="hisguard harden --tags P1.3.6",
            evidence={"lsmod": "usb_storage 81920 0"},
            expired_waiver=EXPIRED,
        ),
        Result("ws-02", "P1.3.8", "error", observed="freshclam.log unreadable: permission denied"),
        Result(
            "db-01", "P3.8.5", "waived", observed="last drill 2024-11-02", expected="quarterly", waiver=VALID
        ),
        Result("db-01", "P1.3.6", "not_applicable", observed="server without USB ports"),
        Result("db-01", "P9.9.9", "error", observed="unknown control ID 'P9.9.9'"),
    ]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "hisguard.db") as store:
        older = [Result("ws-01", "P1.3.6", "fail"), Result("ws-02", "P1.3.6", "fail")]
        store.save_run(ResultSet(results=older, hosts=["ws-01", "ws-02"]), "audit", "successful")
        results = audit_results()
        store.save_run(
            ResultSet(
                results=results,
                playbook="playbooks/audit.yml",
                started="2025-06-01T02:00:00+00:00",
                finished="2025-06-01T02:04:10+00:00",
                hosts=["db-01", "ws-01", "ws-02", "ws-03"],
                stats={"ws-03": {"ok": 0, "failures": 0, "unreachable": 1}},
            ),
            "audit",
            "successful",
        )
        yield store


# --------------------------------------------------------------------------- HTML


@pytest.mark.parametrize(
    ("lang", "present", "absent"),
    [
        (
            "zh",
            ["全网合规率", "条款一览", "需人工确认", "不合规", "整改建议", "已过期的豁免", 'lang="zh-CN"'],
            ["Fleet compliance", "needs attestation"],
        ),
        (
            "en",
            [
                "Fleet compliance",
                "Articles",
                "needs attestation",
                "Remediation",
                "Expired waivers",
                'lang="en"',
            ],
            ["全网合规率", "需人工确认"],
        ),
    ],
)
def test_html_language(store, lang, present, absent):
    html = render(store, None, "html", lang, CATALOG)
    for text in present:
        assert text in html, text
    for text in absent:
        assert text not in html, text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_lists_every_catalog_article(store, lang):
    html = render(store, None, "html", lang, CATALOG)
    rows = re.findall(r'<tr class="article s-([a-z_]+)" id="article-([^"]+)"', html)
    statuses = {control: status for status, control in rows}
    assert list(statuses)[: len(CATALOG.controls)] == list(CATALOG.controls)
    assert statuses["P1.3.6"] == "fail"
    assert statuses["P1.3.8"] == "error"
    assert statuses["P1.3.9"] == "not_run"  # automated, no result
    assert statuses["P2.1.3"] == "needs_attestation"  # manual
    assert statuses["P3.8.5"] == "waived"
    assert statuses["P9.9.9"] == "unknown_control"
    for control in CATALOG.controls.values():
        assert control.title(lang) in html


def test_html_failures_first_with_evidence(store):
    html = render(store, None, "html", "en", CATALOG)
    hosts_section = html[html.index('<section id="hosts">') :]
    order = re.findall(r'<details class="host s-[a-z_]+" id="host-([^"]+)"', hosts_section)
    assert order == ["ws-02", "db-01", "ws-03", "ws-01"]  # fail, error, unreachable, all pass
    ws02 = hosts_section[hosts_section.index('id="host-ws-02"') : hosts_section.index('id="host-db-01"')]
    assert ws02.index('data-control="P1.3.6"') < ws02.index('data-control="P1.3.8"')  # fail before error
    for text in (
        "usb-storage loaded",
        "hisguard harden --tags P1.3.6",
        "usb_storage 81920 0",
        "permission denied",
    ):
        assert text in ws02
    assert 'id="host-ws-02" open' in hosts_section and 'id="host-ws-01">' in hosts_section


def test_html_waivers_and_expired_waivers(store):
    html = render(store, None, "html", "zh", CATALOG)
    waivers = html[html.index('<section id="waivers">') :]
    active, expired = waivers.split("已过期的豁免", 1)
    assert "OA-2025-0412" in active and "OA-2023-0099" not in active
    assert "OA-2023-0099" in expired and "已于 2024-01-31 过期" in expired


def test_html_is_self_contained_and_printable(store):
    html = render(store, None, "html", "zh", CATALOG)
    assert not re.search(r"<(link|img|script)[^>]+(src|href)=", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@media print" in html and "@page" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<circle") == 2 and "<polyline" in svg  # two runs in the trend
    assert "40.0%" in html  # 2 pass / (2 pass + 1 fail + 2 error) over host × control


def test_render_rejects_unknown_format_and_language(store):
    with pytest.raises(ValueError, match="format"):
        render(store, None, "pdf", "zh", CATALOG)
    with pytest.raises(ValueError, match="language"):
        render(store, None, "html", "fr", CATALOG)


# --------------------------------------------------------------------------- JUnit and JSON


def test_junit_one_testcase_per_host_and_control(store):
    root = ET.fromstring(render(store, None, "junit", "en", CATALOG).encode("utf-8"))
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert set(suites) == {"db-01", "ws-01", "ws-02", "ws-03"}
    pairs = {(r.host, r.control) for r in audit_results()}
    cases = [
        (s.get("name"), c.get("name").split()[0]) for s in suites.values() for c in s.findall("testcase")
    ]
    assert set(cases) - {("ws-03", "host")} == pairs
    assert len(cases) == len(pairs) + 1  # + the unreachable host
    ws02 = {c.get("name").split()[0]: c for c in suites["ws-02"].findall("testcase")}
    assert ws02["P1.3.6"].find("failure") is not None
    assert "usb-storage loaded" in ws02["P1.3.6"].find("failure").get("message")
    assert ws02["P1.3.8"].find("error") is not None
    db01 = {c.get("name").split()[0]: c for c in suites["db-01"].findall("testcase")}
    assert "OA-2025-0412" in db01["P3.8.5"].find("skipped").get("message")
    assert db01["P1.3.6"].find("skipped") is not None
    assert suites["ws-03"].find("testcase/error") is not None
    assert root.get("tests") == str(len(cases)) and root.get("failures") == "1" and root.get("errors") == "3"


def test_json_round_trips(store):
    data = json.loads(render(store, None, "json", "en", CATALOG))
    assert data["schema"] == "hisguard.report/1"
    assert [Result(**item) for item in data["results"]] == store.results(data["run"]["id"])
    assert [a["id"] for a in data["articles"]] == [*CATALOG.controls, "P9.9.9"]
    assert data["summary"]["compliance_percent"] == 40.0
    assert [w["ticket"] for w in data["expired_waivers"]] == ["OA-2023-0099"]
    assert [p["compliance_percent"] for p in data["trend"]] == [0.0, 40.0]


def test_older_run_report_has_trend_up_to_that_run(store):
    data = json.loads(render(store, 1, "json", "zh", CATALOG))
    assert data["run"]["id"] == 1 and len(data["trend"]) == 1


# --------------------------------------------------------------------------- the command


@pytest.fixture
def fake_catalog_module(monkeypatch):
    """The report command loads the catalog through hisguard.catalog.load_catalog(): give it ours."""
    catalog_module = pytest.importorskip("hisguard.catalog")
    monkeypatch.setattr(catalog_module, "load_catalog", lambda *args, **kwargs: CATALOG)


@pytest.mark.usefixtures("fake_catalog_module")
def test_report_command_writes_default_path(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HISGUARD_VAR", str(tmp_path / "var"))
    assert main(["report", "--db", str(store.path)]) == 0
    path = tmp_path / "var" / "reports" / "run-2.html"
    assert capsys.readouterr().out.strip() == str(path)
    assert "全网合规率" in path.read_text(encoding="utf-8")
    out = tmp_path / "ci.xml"
    assert (
        main(
            [
                "report",
                "1",
                "--format",
                "junit",
                "--lang",
                "en",
                "--output",
                str(out),
                "--db",
                str(store.path),
            ]
        )
        == 0
    )
    assert ET.parse(out).getroot().get("name") == "hisguard run 1 (audit)"


@pytest.mark.usefixtures("fake_catalog_module")
def test_report_command_bad_run(store, capsys):
    assert main(["report", "7", "--db", str(store.path)]) == 2
    assert "has no run 7" in capsys.readouterr().err
    assert main(["report", "seven", "--db", str(store.path)]) == 2
    assert "run must be a number" in capsys.readouterr().err


# --------------------------------------------------------------------------- the real catalog


@pytest.fixture
def real_catalog(tmp_path):
    """controls/catalog.yml loaded by hisguard.catalog, its checked_by roles and playbooks stubbed."""
    catalog_module = pytest.importorskip("hisguard.catalog")
    from hisguard import paths

    source = paths.catalog_file()
    if not source.exists():
        pytest.skip(f"{source} does not exist yet")
    root = tmp_path / "root"
    (root / "controls").mkdir(parents=True)
    text = source.read_text(encoding="utf-8")
    (root / "controls" / "catalog.yml").write_text(text, encoding="utf-8")
    for kind, name in set(re.findall(r"\b(role|playbook):([A-Za-z0-9_][A-Za-z0-9_.-]*)", text)):
        stub = root / "roles" / name / "tasks" / "main.yml" if kind == "role" else root / "playbooks" / name
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("[]\n", encoding="utf-8")
    return catalog_module.load_catalog(root=root)


def test_real_catalog_every_article_and_headings(store, real_catalog):
    from hisguard.results import compliance

    ids = compliance.load_catalog_ids(real_catalog.path)  # what the action plugin accepts
    assert ids == set(real_catalog.controls)
    html = render(store, None, "html", "zh", real_catalog)
    rows = re.findall(r'<tr class="article s-([a-z_]+)" id="article-([^"]+)"', html)
    assert [control for _, control in rows][: len(real_catalog.controls)] == list(real_catalog.controls)
    for control in real_catalog.controls.values():
        if control.needs_attestation and control.id not in {"P1.3.6", "P1.3.8", "P1.3.9", "P3.8.5"}:
            assert ("needs_attestation", control.id) in rows
    assert real_catalog.heading("P1.3", "zh") in html and real_catalog.heading("P1", "zh") in html
    hospital = json.loads(render(store, None, "json", "en", real_catalog, organization="hospital"))
    listed = {a["id"] for a in hospital["articles"] if a["in_catalog"]}
    assert listed == {c.id for c in real_catalog.controls.values() if "hospital" in c.organizations}
    assert not any(a.startswith("P4.") for a in listed)
