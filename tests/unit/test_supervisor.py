"""The restart budget of `reminder-gateway run`'s children, on an injected clock."""

from __future__ import annotations

from gateway.supervisor import RestartBudget, RestartPolicy, describe


def test_restarts_back_off_and_a_storm_gives_up() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=3, window_s=60, backoff_s=0.5))
    assert [budget.on_exit(t) for t in (0.0, 1.0, 3.0)] == [0.5, 1.0, 2.0]
    assert budget.on_exit(7.0) is None, "a fourth death within a minute stops the gateway"


def test_a_child_that_ran_well_for_a_while_starts_over() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=2, window_s=60, backoff_s=1))
    assert budget.on_exit(0.0) == 1.0
    assert budget.on_exit(30.0) == 2.0
    # The first restart has left the window: one restart counted, the backoff shrinks again.
    assert budget.on_exit(61.0) == 2.0
    assert budget.on_exit(62.0) is None, "30, 61 and 62 are within one minute"


def test_the_backoff_is_capped() -> None:
    budget = RestartBudget(
        RestartPolicy(max_restarts=10, window_s=600, backoff_s=1, backoff_cap_s=5)
    )
    assert [budget.on_exit(float(t)) for t in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_exit_statuses_read_as_people_say_them() -> None:
    assert describe(-9) == "killed by SIGKILL" and describe(1) == "code 1"
