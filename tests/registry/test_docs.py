"""docs/registries.md stays true: its Tiltfile loads, its ConfigMap parses, its ref table holds."""

from __future__ import annotations

import re
from pathlib import Path

from tilt.registry.destinations import rewrite_ref
from tilt.registry.discovery import RegistryHosting, parse_local_registry_hosting
from tilt.tiltfile import load_tiltfile

DOC = Path(__file__).resolve().parents[2] / "docs" / "registries.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_tiltfile_blocks_load(tmp_path: Path) -> None:
    found = blocks("python")
    assert found
    for text in found:
        (tmp_path / "Tiltfile").write_text(text)
        settings = load_tiltfile(str(tmp_path / "Tiltfile")).settings
        assert settings.image_push_cmd is not None


def test_kind_recipe_configmap_is_what_discovery_reads() -> None:
    (script,) = blocks("sh")
    body = script.split("localRegistryHosting.v1: |\n", 1)[1].split("EOF", 1)[0]
    yaml_text = "\n".join(line.strip() for line in body.splitlines()).replace("${reg_port}", "5001")
    reg, help_url, note = parse_local_registry_hosting({"localRegistryHosting.v1": yaml_text})
    assert note == ""
    assert reg == RegistryHosting(host="localhost:5001", help=help_url)
    assert help_url == "https://kind.sigs.k8s.io/docs/user/local-registry/"


def test_ref_table_matches_the_code() -> None:
    text = DOC.read_text().split("## 3.", 1)[1].split("## 4.", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 5
    for row in rows:
        image, registry, pushed, pulled = (c.strip() for c in row.strip("|").split("|"))
        ticks = re.findall(r"`([^`]*)`", registry)
        host = ticks[0]
        from_cluster = ticks[1] if "from cluster" in registry else ""
        single = re.search(r"single_name='([^']*)'", registry)
        reg = RegistryHosting(
            host=host,
            host_from_container_runtime=from_cluster,
            single_name=single.group(1) if single else "",
        )
        name = image.strip("`")
        tag = "tilt-0123456789abcdef"
        push_ref, cluster_ref = rewrite_ref(name, f"{name}:{tag}", reg)
        want_push = re.findall(r"`([^`]*)`", pushed)[0].replace("tilt-…", tag)
        assert push_ref == want_push, row
        want_pull = (
            want_push
            if pulled == "the same"
            else re.findall(r"`([^`]*)`", pulled)[0].replace("tilt-…", tag)
        )
        assert cluster_ref == want_pull, row
