-- SQLite: BEGIN IMMEDIATE already serialises writers.
SELECT 1
