"""Measurement: question files, SQuAD, conversations, metrics and reports. Nothing on the
question path imports it."""
