-- The lab's HIS database: a small hospital's patients, registrations, prescriptions, charges and
-- the price catalogue (价表目录). Deterministic (no random()), a few thousand rows.
CREATE ROLE his_app LOGIN;
CREATE DATABASE his OWNER his_app;
\connect his
SET ROLE his_app;

CREATE TABLE price_catalogue (
  item_code   text PRIMARY KEY,
  name_zh     text NOT NULL,
  category    text NOT NULL CHECK (category IN ('drug', 'exam', 'treatment', 'registration')),
  unit_price  numeric(10, 2) NOT NULL CHECK (unit_price >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE patients (
  patient_id  bigint PRIMARY KEY,
  name        text NOT NULL,
  sex         char(1) NOT NULL CHECK (sex IN ('M', 'F')),
  birth_date  date NOT NULL,
  id_card     text UNIQUE NOT NULL
);
CREATE TABLE registrations (
  registration_id bigint PRIMARY KEY,
  patient_id      bigint NOT NULL REFERENCES patients,
  department      text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('outpatient', 'inpatient', 'emergency')),
  registered_at   timestamptz NOT NULL
);
CREATE TABLE prescriptions (
  prescription_id bigint PRIMARY KEY,
  registration_id bigint NOT NULL REFERENCES registrations,
  item_code       text NOT NULL REFERENCES price_catalogue,
  quantity        integer NOT NULL CHECK (quantity > 0),
  prescribed_at   timestamptz NOT NULL
);
CREATE TABLE charges (
  charge_id       bigint PRIMARY KEY,
  registration_id bigint NOT NULL REFERENCES registrations,
  item_code       text NOT NULL REFERENCES price_catalogue,
  amount          numeric(12, 2) NOT NULL,
  paid            boolean NOT NULL,
  charged_at      timestamptz NOT NULL
);

INSERT INTO price_catalogue (item_code, name_zh, category, unit_price)
SELECT left(cat, 1) || lpad(n::text, 4, '0'), format('%s项目%s', zh, n), cat, round((n * 7.3 % 500 + 2)::numeric, 2)
FROM (VALUES ('drug', '药品'), ('exam', '检查'), ('treatment', '治疗'), ('registration', '挂号'))
       AS c(cat, zh), generate_series(1, 50) AS n;

INSERT INTO patients
SELECT n, format('患者%s', n), CASE WHEN n % 2 = 0 THEN 'F' ELSE 'M' END,
       date '1940-01-01' + (n * 37 % 29000), '33010' || lpad(n::text, 13, '0')
FROM generate_series(1, 2000) AS n;

INSERT INTO registrations
SELECT n, (n * 13 % 2000) + 1,
       (ARRAY['内科', '外科', '儿科', '妇产科', '急诊科', '检验科'])[n % 6 + 1],
       (ARRAY['outpatient', 'outpatient', 'outpatient', 'inpatient', 'emergency'])[n % 5 + 1],
       now() - make_interval(mins => (3000 - n) * 7)
FROM generate_series(1, 3000) AS n;

INSERT INTO prescriptions
SELECT n, (n % 3000) + 1, 'd' || lpad((n % 50 + 1)::text, 4, '0'), n % 5 + 1, now() - make_interval(mins => (4000 - n) * 5)
FROM generate_series(1, 4000) AS n;

INSERT INTO charges
SELECT n, (n % 3000) + 1, c.item_code, c.unit_price * (n % 3 + 1), n % 10 <> 0,
       now() - make_interval(mins => (4000 - n) * 5)
FROM generate_series(1, 4000) AS n
JOIN price_catalogue c ON c.item_code = (ARRAY['d', 'e', 't', 'r'])[n % 4 + 1] || lpad((n % 50 + 1)::text, 4, '0');

CREATE INDEX ON registrations (registered_at);
RESET ROLE;
