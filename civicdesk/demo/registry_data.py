"""Demo registries per jurisdiction: plain data the demo command turns into records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderSpec:
    code: str
    name: str
    services: tuple[str, ...]
    tax_number: str = ""
    iban: str = ""
    bank_name: str = ""
    bank_account: str = ""
    bank_code: str = ""
    correspondent_account: str = ""


@dataclass(frozen=True)
class RegistrySpec:
    centre: tuple[float, float]  # longitude, latitude of the city
    districts: tuple[tuple[str, tuple[str, ...]], ...]  # district → its areas
    streets: tuple[str, ...]
    address_format: str  # {number} {street}, {area}
    providers: tuple[ProviderSpec, ...]
    services: tuple[tuple[str, str, str], ...]  # (service type, provider code, tariff code)
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    phone_prefix: str
    management_forms: tuple[str, ...]
    valuation: bool  # ZA: municipal valuations on premises
    centre_names: tuple[str, ...]
    weekday_hours: tuple[tuple[str, str], ...]
    weekend_hours: tuple[tuple[str, str], ...]


ZA = RegistrySpec(
    centre=(28.19, -25.75),
    districts=(
        ("Region 3", ("Arcadia", "Hatfield", "Sunnyside", "Brooklyn")),
        ("Region 6", ("Mamelodi", "Silverton", "Eersterust")),
        ("Region 1", ("Soshanguve", "Mabopane")),
        ("Region 4", ("Centurion", "Irene", "Lyttelton")),
    ),
    streets=(
        "Church Street",
        "Park Street",
        "Jacob Mare Street",
        "Duncan Street",
        "Rissik Street",
        "Lynnwood Road",
        "Jan Shoba Street",
        "Steve Biko Road",
        "Madiba Street",
    ),
    address_format="{number} {street}, {area}, Pretoria",
    providers=(
        ProviderSpec(
            "demo-water",
            "City of Demo — Water and Sanitation",
            ("cold_water", "sewerage"),
            tax_number="0001339050",
            bank_code="250655",
            bank_name="First National Bank",
            bank_account="62000000001",
        ),
        ProviderSpec(
            "demo-energy",
            "City of Demo — Energy and Electricity",
            ("electricity",),
            tax_number="0001339050",
            bank_code="250655",
            bank_name="First National Bank",
            bank_account="62000000002",
        ),
        ProviderSpec(
            "demo-revenue",
            "City of Demo — Revenue",
            ("property_rates", "solid_waste"),
            tax_number="0001339050",
            bank_code="250655",
            bank_name="First National Bank",
            bank_account="62000000003",
        ),
    ),
    services=(
        ("electricity", "demo-energy", "za-electricity-residential"),
        ("cold_water", "demo-water", "za-water-residential"),
        ("sewerage", "demo-water", "za-sewerage-residential"),
        ("solid_waste", "demo-revenue", "za-refuse-residential"),
        ("property_rates", "demo-revenue", "za-rates-residential"),
    ),
    first_names=(
        "Thabo",
        "Naledi",
        "Sipho",
        "Zanele",
        "Pieter",
        "Annelie",
        "Johan",
        "Lerato",
        "Mpho",
        "Karabo",
        "Ayanda",
        "Willem",
        "Precious",
        "Bongani",
        "Elmarie",
    ),
    last_names=(
        "Mokoena",
        "Nkosi",
        "Dlamini",
        "van der Merwe",
        "Botha",
        "Khumalo",
        "Naidoo",
        "Pretorius",
        "Mahlangu",
        "Sithole",
        "Venter",
        "Molefe",
        "Coetzee",
    ),
    phone_prefix="+2783",
    management_forms=("municipal", "owners_association", "private"),
    valuation=True,
    centre_names=("Pretoria Central Customer Care", "Centurion Customer Care"),
    weekday_hours=(("07:30", "16:00"),),
    weekend_hours=(),
)

UA = RegistrySpec(
    centre=(30.52, 50.45),
    districts=(
        ("Печерський район", ("Липки", "Печерськ")),
        ("Шевченківський район", ("Лук'янівка", "Татарка")),
        ("Дарницький район", ("Осокорки", "Позняки")),
        ("Оболонський район", ("Оболонь", "Мінський масив")),
        ("Святошинський район", ("Академмістечко", "Борщагівка")),
    ),
    streets=(
        "вул. Хрещатик",
        "вул. Велика Васильківська",
        "просп. Перемоги",
        "вул. Драгоманова",
        "просп. Оболонський",
        "вул. Січових Стрільців",
        "бульв. Лесі Українки",
    ),
    address_format="{street}, {number}, {area}, Київ",
    providers=(
        ProviderSpec(
            "demo-teplo",
            "Демо Теплоенерго",
            ("heating", "hot_water"),
            tax_number="32855961",
            iban="UA213223130000026007233566001",
        ),
        ProviderSpec(
            "demo-vodokanal",
            "Демо Водоканал",
            ("cold_water", "sewerage"),
            tax_number="32855961",
            iban="UA213223130000026007233566001",
        ),
        ProviderSpec(
            "demo-upravlinnia",
            "Демо Керуюча компанія",
            ("maintenance",),
            tax_number="32855961",
            iban="UA213223130000026007233566001",
        ),
    ),
    services=(
        ("heating", "demo-teplo", "ua-heating-norm"),
        ("hot_water", "demo-teplo", "ua-hot-water"),
        ("cold_water", "demo-vodokanal", "ua-cold-water"),
        ("sewerage", "demo-vodokanal", "ua-sewerage"),
        ("maintenance", "demo-upravlinnia", "ua-maintenance"),
    ),
    first_names=(
        "Олена",
        "Андрій",
        "Наталія",
        "Олександр",
        "Ірина",
        "Дмитро",
        "Тетяна",
        "Сергій",
        "Оксана",
        "Володимир",
        "Марія",
        "Юрій",
    ),
    last_names=(
        "Коваленко",
        "Шевченко",
        "Бондаренко",
        "Ткаченко",
        "Кравченко",
        "Мельник",
        "Бойко",
        "Поліщук",
        "Савченко",
        "Руденко",
    ),
    phone_prefix="+38050",
    management_forms=("management_company", "owners_association", "housing_cooperative"),
    valuation=False,
    centre_names=("ЦКС Печерського району", "ЦКС Дарницького району", "ЦКС Оболонського району"),
    weekday_hours=(("08:00", "21:00"),),
    weekend_hours=(("09:00", "17:00"),),
)

RU = RegistrySpec(
    centre=(41.97, 45.04),
    districts=(
        ("Ленинский район", ("Центр", "Ташла")),
        ("Октябрьский район", ("Мамайка", "Осетинка")),
        ("Промышленный район", ("Юго-Запад", "Перспективный")),
    ),
    streets=(
        "ул. Ленина",
        "ул. Мира",
        "пр. Карла Маркса",
        "ул. Доваторцев",
        "ул. 50 лет ВЛКСМ",
        "пр. Кулакова",
        "ул. Пирогова",
    ),
    address_format="{street}, д. {number}, {area}, Ставрополь",
    providers=(
        ProviderSpec(
            "demo-vodokanal",
            "Демо Водоканал",
            ("cold_water", "sewerage"),
            tax_number="7707083893",
            bank_code="044525225",
            bank_account="40702810938000000001",
            correspondent_account="30101810400000000225",
            bank_name="ПАО Сбербанк",
        ),
        ProviderSpec(
            "demo-teploset",
            "Демо Теплосеть",
            ("heating", "hot_water"),
            tax_number="7707083893",
            bank_code="044525225",
            bank_account="40702810938000000001",
            correspondent_account="30101810400000000225",
            bank_name="ПАО Сбербанк",
        ),
        ProviderSpec(
            "demo-energosbyt",
            "Демо Энергосбыт",
            ("electricity",),
            tax_number="7707083893",
            bank_code="044525225",
            bank_account="40702810938000000001",
            correspondent_account="30101810400000000225",
            bank_name="ПАО Сбербанк",
        ),
        ProviderSpec("demo-gaz", "Демо Межрегионгаз", ("gas",), tax_number="7707083893"),
        ProviderSpec(
            "demo-uk", "Демо Управляющая компания", ("maintenance",), tax_number="7707083893"
        ),
        ProviderSpec(
            "demo-kapremont", "Демо Фонд капремонта", ("capital_repair",), tax_number="7707083893"
        ),
    ),
    services=(
        ("cold_water", "demo-vodokanal", "ru-cold-water"),
        ("hot_water", "demo-teploset", "ru-hot-water"),
        ("electricity", "demo-energosbyt", "ru-electricity"),
        ("gas", "demo-gaz", "ru-gas"),
        ("heating", "demo-teploset", "ru-heating-354"),
        ("maintenance", "demo-uk", "ru-maintenance"),
        ("capital_repair", "demo-kapremont", "ru-capital-repair"),
    ),
    first_names=(
        "Ирина",
        "Алексей",
        "Наталья",
        "Сергей",
        "Ольга",
        "Андрей",
        "Елена",
        "Дмитрий",
        "Татьяна",
        "Михаил",
        "Анна",
        "Владимир",
    ),
    last_names=(
        "Иванов",
        "Смирнов",
        "Кузнецов",
        "Попов",
        "Соколов",
        "Лебедев",
        "Козлов",
        "Новиков",
        "Морозов",
        "Волков",
    ),
    phone_prefix="+7918",
    management_forms=("management_company", "owners_association", "direct"),
    valuation=False,
    centre_names=("Расчётный центр — Ленинский район", "Расчётный центр — Промышленный район"),
    weekday_hours=(("08:00", "13:00"), ("14:00", "18:00")),
    weekend_hours=(),
)

SPECS = {"za": ZA, "ua": UA, "ru": RU}
