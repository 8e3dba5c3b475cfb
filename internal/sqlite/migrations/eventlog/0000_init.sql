-- The application database: accounts, tokens and read models. Each feature
-- adds its own numbered migration file.
SELECT 1;
