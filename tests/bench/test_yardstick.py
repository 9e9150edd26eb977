"""The yardstick with measuring variants beside introbot: their order and their figures."""

from __future__ import annotations

from bench import yardstick


def test_variants_take_their_turns_in_the_mirrored_order() -> None:
    assert yardstick._order(8) == ["introbot", "same_work", "same_work", "introbot"] * 2
    order = yardstick._order(4, ["introbot", "same_work", "skip_review"])
    assert yardstick.letters(order, ["introbot", "same_work", "skip_review"]) == "ABCCBA"


def test_a_variant_reports_what_it_saves_against_introbot() -> None:
    def round_(app: str, app_s: float, pg_s: float) -> dict[str, object]:
        return {
            "app": app,
            "kind": "submit",
            "completed": 100,
            "app_cpu_s": app_s,
            "pg_cpu_s": pg_s,
            "done_per_s": 50.0,
        }

    rounds = [
        round_("introbot", 1.0, 0.4),
        round_("same_work", 0.5, 0.2),
        round_("skip_review", 0.8, 0.3),
    ]
    found = yardstick.summarise(rounds, ["skip_review"])["submit"]
    assert found["total_ratio"] == 2.0
    assert found["variants"]["skip_review"] == {
        "total_ratio": 1.57,
        "saves_ms": {"app_ms": 2.0, "pg_ms": 1.0, "total_ms": 3.0},
        # introbot 14 ms, the target 1.25 x 7 = 8.75: the part is 3 of the 5.25 ms between.
        "of_gap": 0.57,
    }
    lines = yardstick.variant_lines({"variants": ["skip_review"], "summary": {"submit": found}})
    assert any(
        line.startswith("| submission | skip_review | 8.00 / 3.00 / 11.00 | 1.57 |")
        and line.endswith("| 57 % |")
        for line in lines
    )
