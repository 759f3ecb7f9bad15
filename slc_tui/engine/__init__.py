"""The engine: schedules runs inside the CPU budget, owns their processes, writes the ledger.

Headless: nothing here imports Textual.
"""
