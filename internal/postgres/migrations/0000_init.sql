-- PostgreSQL schema: one database holds the event log, accounts, tokens and
-- read models. Files are named NNNN_<feature>.sql and applied in order.
SELECT 1;
