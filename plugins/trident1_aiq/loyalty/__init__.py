"""Enrolment, earn, redemptions and refund reconciliation of points, as set-based SQL over the warehouse."""
