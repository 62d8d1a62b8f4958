def expected_failures(name, two_d, ssvep): return {}
