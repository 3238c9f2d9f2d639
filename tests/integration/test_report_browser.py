"""The HTML report in headless Chromium (Debian's chromium package): it renders, the chart draws,
zh and en show the right text, and it prints. Screenshots, PDFs and the HTML stay under
var/test-artifacts/ for a person to look at.
"""

import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hisguard import paths
from hisguard.report import render
from hisguard.results import Result, ResultSet
from hisguard.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)"),
]

LINE_RGB = (0x1A, 0x56, 0xA8)  # svg.trend .line stroke in report.css


@dataclass
class FakeControl:
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
            "P1.3.6", "automated", "接入内网的工作站禁止使用U盘、光驱等设备", "No USB or optical media"
        ),
        FakeControl("P1.3.8", "automated", "每台计算机必须安装防病毒软件", "Antivirus on every computer"),
        FakeControl(
            "P1.3.9", "automated", "内网计算机不得接入互联网", "Intranet computers stay off the Internet"
        ),
        FakeControl("P2.1.3", "manual", "外来人员进入机房须登记并由专人陪同", "Visitors to the machine room"),
        FakeControl("P3.8.5", "partial", "定期进行模拟恢复", "Periodic simulated restore"),
    ]
)
HOSTS = [f"ws-{n:02d}" for n in range(1, 7)] + ["db-01"]
WAIVER = {
    "control": "P1.3.6",
    "hosts": ["ws-06"],
    "groups": [],
    "reason": "PACS 光盘导入，待网络导入上线",
    "approver": "信息科 王主任",
    "ticket": "OA-2025-0412",
    "expires": "2099-12-31",
}
EXPIRED = {
    "control": "P1.3.9",
    "hosts": [],
    "groups": ["workstations"],
    "reason": "厂商远程升级",
    "approver": "CIO",
    "ticket": "OA-2024-0007",
    "expires": "2024-03-31",
}


def synthetic_run(failing: int) -> ResultSet:
    """One audit of HOSTS: the first `failing` workstations fail P1.3.6 and P1.3.9."""
    results = []
    for index, host in enumerate(HOSTS):
        bad = index < failing
        if host == "ws-06":
            waived = Result(
                host, "P1.3.6", "waived", observed="usb-storage 已加载", expected="已禁用", waiver=WAIVER
            )
            results.append(waived)
        elif host.startswith("ws-"):
            usb = Result(
                host,
                "P1.3.6",
                "fail" if bad else "pass",
                observed="usb-storage 已加载" if bad else "install usb-storage /bin/false",
                expected="install usb-storage /bin/false",
                remediation="hisguard harden --tags P1.3.6" if bad else None,
                evidence={"lsmod": "usb_storage 81920 0"} if bad else {},
            )
            results.append(usb)
        if host.startswith("ws-"):
            route = Result(
                host,
                "P1.3.9",
                "fail" if bad else "pass",
                observed="default via 10.9.0.1" if bad else "no default route",
                expected="no default route",
                expired_waiver=EXPIRED if bad else None,
            )
            results.append(route)
        results.append(Result(host, "P1.3.8", "pass", observed="clamav 1.0.7"))
    results.append(Result("db-01", "P3.8.5", "error", observed="restic snapshots: permission denied"))
    return ResultSet(
        results=results,
        playbook="playbooks/audit.yml",
        started="2025-06-01T02:00:00+00:00",
        finished="2025-06-01T02:03:00+00:00",
        hosts=HOSTS,
    )


@pytest.fixture(scope="module")
def artifacts():
    path = paths.var_dir() / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("db") / "hisguard.db") as store:
        for failing in (5, 4, 3, 1, 2):
            store.save_run(synthetic_run(failing), "audit", "successful", mode="audit")
        yield store


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hisguard-chromium-") as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows (RGB) of an 8-bit RGB/RGBA non-interlaced PNG, as Chromium writes them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line if bpp == 3 else b"".join(line[i : i + 3] for i in range(0, stride, 4))))
        previous = line
    return width, height, rows


def count_color(rows: list[bytes], box: dict, rgb: tuple[int, int, int], tolerance: int = 24) -> int:
    count = 0
    for y in range(int(box["top"]), int(box["bottom"])):
        row = rows[y]
        for x in range(int(box["left"]), int(box["right"])):
            r, g, b = row[3 * x : 3 * x + 3]
            if abs(r - rgb[0]) <= tolerance and abs(g - rgb[1]) <= tolerance and abs(b - rgb[2]) <= tolerance:
                count += 1
    return count


PROBE = """
<script>
window.addEventListener("load", function () {
  var svg = document.querySelector("svg.trend"), line = svg.querySelector("polyline");
  var box = svg.getBoundingClientRect();
  document.body.setAttribute("data-probe", JSON.stringify({
    line_length: line ? line.getTotalLength() : 0,
    points: Array.from(svg.querySelectorAll("circle")).map(function (c) { return c.getBBox().width; }),
    box: {left: box.left + scrollX, top: box.top + scrollY,
          right: box.right + scrollX, bottom: box.bottom + scrollY},
    font: getComputedStyle(document.body).fontFamily
  }));
});
</script>
"""

EXPECTED_TEXT = {
    "zh": [
        "信息化管理制度合规报告",
        "全网合规率",
        "条款一览",
        "需人工确认",
        "不合规",
        "整改建议",
        "合规率趋势",
        "已过期的豁免",
        "外来人员进入机房须登记并由专人陪同",
    ],
    "en": [
        "IT management rules: compliance report",
        "Fleet compliance",
        "Articles",
        "needs attestation",
        "Remediation",
        "Compliance trend",
        "Expired waivers",
        "Visitors to the machine room",
    ],
}
FOREIGN_TEXT = {
    "zh": ["Fleet compliance", "needs attestation"],
    "en": ["全网合规率", "需人工确认", "条款一览"],
}


def test_cjk_font_installed():
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fc-list (fontconfig) not available to check fonts")
    fonts = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), (
        "no CJK font: zh reports render as boxes; install fonts-noto-cjk (scripts/apt-packages)"
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_renders_in_chromium(store, artifacts, lang):
    html = render(store, None, "html", lang, CATALOG)
    page = artifacts / f"report-{lang}.html"
    page.write_text(html, encoding="utf-8")
    probe_page = artifacts / f"report-{lang}.probe.html"
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    screenshot = artifacts / f"report-{lang}.png"
    screenshot.unlink(missing_ok=True)

    # The DOM as Chromium built it: the right language, every article, the chart's elements.
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    text = dom.stdout
    for expected in EXPECTED_TEXT[lang]:
        assert expected in text, expected
    for foreign in FOREIGN_TEXT[lang]:
        assert foreign not in text, foreign
    for control in CATALOG.controls:
        assert f'id="article-{control}"' in text
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert svg.count("<circle") == 5 and "<polyline" in svg

    # The chart has real geometry after layout.
    probed = chromium(
        "--dump-dom", "--window-size=1280,2000", "--virtual-time-budget=5000", probe_page.as_uri()
    )
    assert probed.returncode == 0, probed.stderr
    match = re.search(r'data-probe="([^"]+)"', probed.stdout)
    assert match, "the probe script did not run"
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["line_length"] > 300
    assert probe["points"] == [8, 8, 8, 8, 12]  # the current run is drawn larger
    assert "Noto Sans CJK SC" in probe["font"]

    # A screenshot: the trend line is painted inside the chart's box.
    shot = chromium(f"--screenshot={screenshot}", "--window-size=1280,2000", page.as_uri())
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr
    width, height, rows = read_png(screenshot)
    assert (width, height) == (1280, 2000)
    assert probe["box"]["bottom"] < height, "the chart should be in the first screen"
    assert count_color(rows, probe["box"], LINE_RGB) > 500

    # Print: the print stylesheet gives a multi-page A4 PDF.
    pdf = artifacts / f"report-{lang}.pdf"
    pdf.unlink(missing_ok=True)
    printed = chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", content)) >= 2
    probe_page.unlink()
