"""The stage cache: its store (:mod:`.store`) and the key of each stage's result (:mod:`.keys`)."""
