//! The SAM template (`template.yaml`) and the tests that hold it to the code (`tests/`).
