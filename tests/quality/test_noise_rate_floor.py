"""A code whose confidently counted records all look like another code is not 100 % noise."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.quality import confident_learning as cl


def test_noise_rate_of_a_small_code_is_not_one_when_some_records_are_not_counted():
    rows, labels = [], []
    rows += [[0.30, 0.65, 0.05]] * 8  # given A, confidently B (8 of 10 flagged in the example)
    rows += [[0.10, 0.45, 0.45]] * 2  # given A, unsure: counted nowhere
    labels += [0] * 10
    rows += [[0.2, 0.6, 0.2]] * 20 + [[0.2, 0.2, 0.6]] * 20  # clean B and C
    labels += [1] * 20 + [2] * 20
    proba, labels = np.asarray(rows), np.asarray(labels)
    joint = cl.estimate_joint(labels, proba)
    rates = cl.noise_rates(joint)
    assert rates[0] == pytest.approx(8 / 9)  # one record kept on the diagonal, as cleanlab does
    assert rates[1] == pytest.approx(0.0) and rates[2] == pytest.approx(0.0)


def test_confident_joint_keeps_at_least_one_on_the_diagonal_of_present_labels_only():
    proba = np.asarray([[0.1, 0.9, 0.0], [0.1, 0.9, 0.0], [0.05, 0.95, 0.0]])
    joint = cl.confident_joint(np.asarray([0, 1, 1]), proba, calibrate=False)
    assert joint[0, 0] == 1 and joint[2, 2] == 0  # label 2 is carried by no record
