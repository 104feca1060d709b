"""Extract, normalise, validate (Great Expectations), resolve personas and load one credential's day."""
