"""`mlbot stats` and `mlbot mydata`, run as a user would: real subprocesses on one MLBOT_HOME
(the later reads in this process, through the same CLI entry, to keep the suite quick)."""
import json

from bot.adapters.cli import main as cli_main
from tests.conftest import mnist_png
from tests.test_cli import run


def _cli(args: list[str], capsys) -> str:
    assert cli_main(args) == 0
    return capsys.readouterr().out


def test_stats_and_mydata_from_the_shell(home_with_model, mnist, tmp_path, capsys):
    image = tmp_path / "seven.png"
    image.write_bytes(mnist_png(mnist, 0))
    assert run(["digit", str(image), str(image), "--json"], home_with_model).returncode == 0

    stats = run(["stats", "--json"], home_with_model)
    assert stats.returncode == 0, stats.stderr
    digit = json.loads(stats.stdout)["services"]["digit"]
    assert (digit["commands"], digit["cache_hits"], digit["busy"]) == (2, 1, 0)
    text = _cli(["stats"], capsys)
    assert text.startswith("Stats, last 24 h") and "/digit: 2 commands, cache hits 50% of 2" in text

    # `mlbot digit` runs as the CLI user "local".
    mine = json.loads(_cli(["mydata", "--user", "local"], capsys))
    assert len(mine["results"]) == 1 and mine["results"][0]["service"] == "digits"
    nobody = json.loads(_cli(["mydata", "--user", "someone-else"], capsys))
    assert nobody["results"] == [] and nobody["user_key"] != mine["user_key"]
