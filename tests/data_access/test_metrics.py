from data_access import metrics as m
from data_access.metrics import Counts, metric_row


def test_golden_fujian_row_from_counts():
    # 人均学时 7.5 = hours / 145792 learners; pick hours so the average rounds to 7.5.
    counts = Counts(participants=146999, learners=145792, hours_tenths=10934400,
                    completed=80496, teacher_count=445049)
    row = metric_row(counts)
    assert (row.participants, row.participation_rate, row.learners, row.learning_rate,
            row.hours_average, row.completed, row.completed_rate, row.not_completed,
            row.not_completed_rate) == (
        "146999", "33.03%", "145792", "99.18%", "7.5", "80496", "54.76%", "66503", "45.24%")


def test_half_up_not_bankers():
    assert m.percent(1, 8) == "12.50%"
    assert m.percent(1, 800) == "0.13%"  # 0.125 → 0.13 (banker's would give 0.12)
    assert m.percent(5, 1000, 1) == "0.5%"
    assert m.percent(1, 2000, 1) == "0.1%"  # 0.05 → 0.1
    assert m.hours_average(25, 10) == "0.3"  # 0.25 → 0.3
    assert m.hours_average(35, 10) == "0.4"
    assert m.percent(2, 3) == "66.67%"


def test_missing_and_zero_denominators_are_dashes():
    assert m.percent(10, None) == "—"
    assert m.percent(10, 0) == "—"
    row = metric_row(Counts(0, 0, 0, 0, None))
    assert row.participation_rate == row.progress == row.learning_rate == "—"
    assert row.hours_average == "—"
    assert row.progress_value is None
    assert row.participants == "0"


def test_durations_and_hours():
    assert m.duration(28320) == "07:52:00"
    assert m.duration(123 * 3600 + 245) == "123:04:05"
    assert m.duration(0) == "00:00:00"
    assert m.hours(80) == "8"
    assert m.hours(75) == "7.5"
