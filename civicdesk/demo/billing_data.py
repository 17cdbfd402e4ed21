"""The demo operators' tariffs (one per service code the registry demo gives its accounts) and
how many months of bills the demo makes. Illustrative prices, not any municipality's: metered
services are priced by the meter where there is one and by the norm per occupant where there
is none (most demo accounts have no meters)."""

from __future__ import annotations

BILLED_MONTHS = 12

ZA = """
code: za-electricity-residential
name: Residential electricity
service: electricity
unit: kWh
currency: ZAR
jurisdiction: za
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    id: energy
    description: energy_charge
    when: {metered: true}
    blocks:
      - {up_to: 100, price: "2.3421"}
      - {up_to: 400, price: "2.9876"}
      - {up_to: 650, price: "3.4510"}
      - {up_to: null, price: "3.8123"}
  - kind: norm
    id: estimated
    description: energy_charge
    when: {metered: false}
    per: occupant
    norm: "120"
    price: "2.9876"
  - kind: fixed
    id: service
    description: service_charge
    amount: "245.80"
---
code: za-water-residential
name: Residential water
service: cold_water
unit: kL
currency: ZAR
jurisdiction: za
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: block
    id: water
    when: {metered: true}
    blocks:
      - {up_to: 6, price: "24.10"}
      - {up_to: 15, price: "31.75"}
      - {up_to: null, price: "43.20"}
  - kind: norm
    id: estimated
    when: {metered: false}
    per: occupant
    norm: "4"
    price: "24.10"
---
code: za-sewerage-residential
name: Residential sanitation
service: sewerage
unit: kL
currency: ZAR
jurisdiction: za
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: flat
    id: sewage
    when: {metered: true}
    price: "16.87"
  - kind: norm
    id: estimated
    when: {metered: false}
    per: occupant
    norm: "3"
    price: "16.87"
---
code: za-refuse-residential
name: Refuse removal
service: solid_waste
unit: month
currency: ZAR
jurisdiction: za
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.15", prices_include_tax: false}
charges:
  - kind: fixed
    id: refuse
    amount: "298.00"
---
code: za-rates-residential
name: Residential property rates
service: property_rates
unit: R
currency: ZAR
jurisdiction: za
valid_from: 2024-07-01
charges:
  - kind: property_rates
    id: rates
    rate: "0.0098735"
    valuation_rebate: "15000"
    exempt_up_to: "100000"
"""

UA = """
code: ua-heating-norm
name: Централізоване опалення
service: heating
unit: Gcal
currency: UAH
jurisdiction: ua
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: heating_ua
    id: heating
    method: norm
    norm: "0.0185"
    temperature_coefficient: "1.00"
    price: "1654.41"
---
code: ua-hot-water
name: Гаряче водопостачання
service: hot_water
unit: m³
currency: UAH
jurisdiction: ua
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "99.83"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "2.2"
    price: "99.83"
---
code: ua-cold-water
name: Централізоване водопостачання
service: cold_water
unit: m³
currency: UAH
jurisdiction: ua
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "30.41"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "3.6"
    price: "30.41"
---
code: ua-sewerage
name: Централізоване водовідведення
service: sewerage
unit: m³
currency: UAH
jurisdiction: ua
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "22.96"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "5.8"
    price: "22.96"
---
code: ua-maintenance
name: Утримання будинку
service: maintenance
unit: m²
currency: UAH
jurisdiction: ua
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: per_m2
    id: maintenance
    rate: "8.72"
"""

RU = """
code: ru-cold-water
name: Холодное водоснабжение
service: cold_water
unit: m³
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "45.67"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "6.935"
    price: "45.67"
---
code: ru-hot-water
name: Горячее водоснабжение
service: hot_water
unit: m³
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "232.14"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "2.9"
    price: "232.14"
---
code: ru-electricity
name: Электроснабжение
service: electricity
unit: kWh
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: block
    id: social-norm
    when: {metered: true}
    blocks:
      - {up_to: 3900, price: "6.43"}
      - {up_to: null, price: "9.07"}
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "93"
    price: "6.43"
---
code: ru-gas
name: Газоснабжение
service: gas
unit: m³
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: flat
    id: metered
    when: {metered: true}
    price: "8.12"
  - kind: norm
    id: by-norm
    when: {metered: false}
    per: occupant
    norm: "10.6"
    price: "8.12"
---
code: ru-heating-354
name: Отопление (формула 2 Правил 354)
service: heating
unit: Gcal
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: heating_ru_f2
    id: heating
    norm: "0.0220"
    price: "2847.13"
---
code: ru-maintenance
name: Содержание жилого помещения
service: maintenance
unit: m²
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
tax: {name: VAT, rate: "0.20", prices_include_tax: true}
charges:
  - kind: per_m2
    id: maintenance
    rate: "32.40"
---
code: ru-capital-repair
name: Взнос на капитальный ремонт
service: capital_repair
unit: m²
currency: RUB
jurisdiction: ru
valid_from: 2024-07-01
charges:
  - kind: per_m2
    id: capital-repair
    rate: "15.90"
"""

TARIFFS = {"ZA": ZA, "UA": UA, "RU": RU}
