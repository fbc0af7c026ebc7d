"""Throughput benchmarks of the gateway, run by `make bench` (`python -m bench`).

Figures, one JSON line each on stdout: intake_reminders_per_s, e2e_sms_per_s, e2e_email_per_s,
naive_email_per_s, speedup_vs_naive. Everything runs on loopback: real `api` and `worker`
processes, a local Twilio-compatible server (`bench.smsserver`), an SMTP sink (`bench.smtpsink`),
and the naive one-job-per-message baseline (`bench.naive`).
"""
