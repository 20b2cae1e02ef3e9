from facemoji.timing import median_latency


def test_median_latency_counts_warmup_then_timed_calls() -> None:
    seen: list[int] = []
    cleared: list[int] = []
    latency = median_latency(seen.append, runs=5, warmup=3, before=lambda: cleared.append(len(seen)))
    assert seen == list(range(8))
    assert cleared == [3, 4, 5, 6, 7]  # before each timed call only, never during warm-up
    assert latency.runs == 5


def test_median_latency_measures_busy_work_in_cpu_and_wall_time() -> None:
    latency = median_latency(lambda _: sum(i * i for i in range(200_000)), runs=5)
    assert latency.cpu_ms > 1 and latency.median_ms > 1
