"""Realistic Russian seed data: employees in three departments, contacts, companies, leads, deals,
two Open Lines and a few named customer profiles for ``state.customer_writes(customer=<key>)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import PortalState

DEPARTMENTS = [
    (1, "ООО «Сэндбокс»", 0, 1),
    (2, "Отдел продаж", 1, 2),
    (3, "Служба поддержки", 1, 5),
    (4, "Отдел доставки", 1, 8),
]

# id, first, last, second, gender, position, department, email
EMPLOYEES = [
    (1, "Алексей", "Воронцов", "Игоревич", "M", "Генеральный директор", 1, "admin@sandbox.ru"),
    (2, "Марина", "Ковалёва", "Сергеевна", "F", "Руководитель отдела продаж", 2, "m.kovaleva@sandbox.ru"),
    (3, "Дмитрий", "Орлов", "Андреевич", "M", "Менеджер по продажам", 2, "d.orlov@sandbox.ru"),
    (4, "Екатерина", "Лебедева", "Павловна", "F", "Менеджер по продажам", 2, "e.lebedeva@sandbox.ru"),
    (5, "Игорь", "Соколов", "Викторович", "M", "Руководитель поддержки", 3, "i.sokolov@sandbox.ru"),
    (6, "Ольга", "Морозова", "Александровна", "F", "Специалист поддержки", 3, "o.morozova@sandbox.ru"),
    (7, "Сергей", "Никитин", "Олегович", "M", "Специалист поддержки", 3, "s.nikitin@sandbox.ru"),
    (8, "Павел", "Васильев", "Николаевич", "M", "Руководитель доставки", 4, "p.vasiliev@sandbox.ru"),
    (9, "Анастасия", "Фёдорова", "Дмитриевна", "F", "Логист", 4, "a.fedorova@sandbox.ru"),
]
SALES = [2, 3, 4]

COMPANIES = [
    ("ООО «Северный ветер»", "CUSTOMER", "MANUFACTURING", "+7 (812) 334-12-90", "info@sevveter.ru"),
    ("ИП Гончаров Андрей Петрович", "CUSTOMER", "RETAIL", "+7 916 200-45-17", "goncharov.ip@mail.ru"),
    ("АО «Уралмехсервис»", "CUSTOMER", "MANUFACTURING", "+7 (343) 210-77-01", "office@uralmech.ru"),
    ("ООО «Технопарк Волга»", "PARTNER", "IT", "+7 (846) 990-13-13", "hello@tp-volga.ru"),
    ("ООО «Зелёный дом»", "CUSTOMER", "CONSTRUCTION", "+7 (495) 781-22-40", "zakaz@greenhouse-msk.ru"),
    ("ИП Белова Светлана Юрьевна", "CUSTOMER", "DELIVERY", "+7 903 555-31-08", "belova.sy@yandex.ru"),
    ("АО «Балтийская логистика»", "SUPPLIER", "DELIVERY", "+7 (812) 600-40-40", "sales@baltlog.ru"),
    ("ООО «Кофейня на Арбате»", "CUSTOMER", "OTHER", "+7 (499) 123-98-76", "arbat.coffee@gmail.com"),
]

# first, last, second, phone (as people write it), email, company index or None, post
CONTACTS = [
    ("Анна", "Смирнова", "Владимировна", "+7 (916) 123-45-67", "anna.smirnova@mail.ru", 0, "Закупщик"),
    ("Иван", "Петров", "Сергеевич", "8 903 765-43-21", "i.petrov@yandex.ru", 1, "Директор"),
    ("Елена", "Кузнецова", "Андреевна", "+79261112233", "kuznetsova.e@uralmech.ru", 2, "Инженер"),
    ("Михаил", "Попов", "Алексеевич", "8(495)222-33-44", "m.popov@tp-volga.ru", 3, "Технический директор"),
    ("Татьяна", "Васнецова", "Игоревна", "+7 985 444-55-66", "t.vasnetsova@greenhouse-msk.ru", 4, "Прораб"),
    ("Николай", "Зайцев", "Петрович", "+7 (921) 777-88-99", "zaitsev.n@gmail.com", None, ""),
    ("Ольга", "Новикова", "Сергеевна", "89161234500", "olga.novikova@inbox.ru", None, ""),
    ("Артём", "Медведев", "Олегович", "+7 912 345-67-89", "a.medvedev@baltlog.ru", 6, "Менеджер"),
    ("Светлана", "Белова", "Юрьевна", "+7 903 555-31-08", "belova.sy@yandex.ru", 5, "Владелец"),
    ("Андрей", "Гончаров", "Петрович", "+7 916 200-45-17", "goncharov.ip@mail.ru", 1, "Владелец"),
    ("Юлия", "Егорова", "Викторовна", "+7 (967) 101-20-30", "egorova.yulia@mail.ru", None, ""),
    ("Роман", "Степанов", "Ильич", "8 800 555-35-35", "stepanov@arbat-coffee.ru", 7, "Управляющий"),
    ("Наталья", "Павлова", "Геннадьевна", "+7 (911) 234-56-78", "n.pavlova@sevveter.ru", 0, "Бухгалтер"),
    ("Виктор", "Семёнов", "Аркадьевич", "+7 926 000-11-22", "semenov.va@yandex.ru", None, ""),
    ("Ксения", "Волкова", "Дмитриевна", "+7 (999) 876-54-32", "k.volkova@gmail.com", None, ""),
    ("Григорий", "Макаров", "Степанович", "8 (343) 210-77-05", "makarov@uralmech.ru", 2, "Главный механик"),
    ("Дарья", "Алексеева", "Романовна", "+7 977 321-00-45", "darya.alekseeva@mail.ru", None, ""),
    ("Константин", "Романов", "Евгеньевич", "+7 (916) 808-70-60", "k.romanov@tp-volga.ru", 3, "Аналитик"),
    ("Людмила", "Фролова", "Николаевна", "+7 (495) 781-22-41", "frolova@greenhouse-msk.ru", 4, "Снабженец"),
    ("Евгений", "Киселёв", "Борисович", "+7 931 246-80-12", "e.kiselev@baltlog.ru", 6, "Логист"),
]

LEADS = [
    (
        "Запрос прайса на оборудование",
        "Максим",
        "Тихонов",
        "+7 (915) 600-70-80",
        "tikhonov.m@mail.ru",
        "NEW",
        0,
    ),
    (
        "Заявка с сайта: доставка в Казань",
        "Алина",
        "Шарапова",
        "+7 987 100-20-30",
        "alina.sh@yandex.ru",
        "IN_PROCESS",
        45000,
    ),
    ("Консультация по тарифам", "Руслан", "Галиев", "8 917 333-22-11", "galiev.r@gmail.com", "NEW", 0),
    (
        "Оптовый заказ упаковки",
        "Вера",
        "Крылова",
        "+7 (926) 456-78-90",
        "krylova.vera@mail.ru",
        "PROCESSED",
        180000,
    ),
    (
        "Звонок: интеграция с 1С",
        "Олег",
        "Лаптев",
        "+7 905 909-80-70",
        "o.laptev@techno.ru",
        "IN_PROCESS",
        95000,
    ),
    ("Повторная покупка", "Инна", "Сорокина", "+7 (916) 321-65-87", "inna.sorokina@inbox.ru", "NEW", 12000),
    ("Вопрос о гарантии", "Тимур", "Хасанов", "+7 (917) 111-00-99", "t.khasanov@mail.ru", "JUNK", 0),
    ("Запрос КП: монтаж", "Полина", "Жукова", "8 964 505-05-05", "zhukova.p@yandex.ru", "NEW", 250000),
    ("Заявка из Telegram", "Станислав", "Мельников", "+7 950 123-12-12", "stas.melnikov@gmail.com", "NEW", 0),
    (
        "Выставка «Иннопром»: контакт",
        "Ирина",
        "Ефимова",
        "+7 (343) 377-00-10",
        "efimova@ural-expo.ru",
        "IN_PROCESS",
        60000,
    ),
]

DEAL_STAGES = ["NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE"]
DEALS = [
    ("Поставка оборудования — Северный ветер", 0, 0, "PREPARATION", 1250000),
    ("Годовое обслуживание", 1, 1, "EXECUTING", 340000),
    ("Модернизация линии", 2, 2, "NEW", 2800000),
    ("Внедрение CRM", 3, 3, "PREPAYMENT_INVOICE", 560000),
    ("Материалы для теплицы", 4, 4, "WON", 189500),
    ("Доставка заказа №4471", 5, None, "NEW", 15600),
    ("Подписка на сервис", 6, None, "EXECUTING", 24000),
    ("Логистика: сезонный контракт", 7, 6, "FINAL_INVOICE", 910000),
    ("Товары для розницы", 8, 5, "PREPARATION", 78000),
    ("Оптовая закупка", 9, 1, "LOSE", 430000),
    ("Корпоративный заказ", 10, None, "NEW", 67000),
    ("Кофемашины для сети", 11, 7, "PREPARATION", 1540000),
    ("Бухгалтерский аудит", 12, 0, "WON", 120000),
    ("Ремонт техники", 13, None, "EXECUTING", 35500),
    ("Пробная поставка", 14, None, "NEW", 9900),
]

LINES = [(1, "Онлайн-чат на сайте", [5, 6, 7]), (2, "Telegram: Сэндбокс", [6, 7])]

# Named customers for customer_writes(customer=<key>). The first two match seeded contacts by phone
# (written differently on purpose), the last two are strangers (Open Lines creates a lead).
CUSTOMER_PROFILES: dict[str, dict[str, Any]] = {
    "anna": {
        "name": "Анна",
        "last_name": "Смирнова",
        "phone": "8 (916) 123 45 67",
        "email": "",
        "gender": "F",
    },
    "ivan": {"name": "Иван", "last_name": "Петров", "phone": "+79037654321", "email": "", "gender": "M"},
    "olga": {
        "name": "Ольга",
        "last_name": "Новикова",
        "phone": "",
        "email": "Olga.Novikova@inbox.ru",
        "gender": "F",
    },
    "stranger": {
        "name": "Кирилл",
        "last_name": "Лосев",
        "phone": "+7 999 000-12-34",
        "email": "losev.k@mail.ru",
        "gender": "M",
    },
    "guest": {"name": "Гость", "last_name": "", "phone": "", "email": "", "gender": ""},
}


def populate(state: PortalState) -> None:
    from .crm import store_new
    from .im import add_user

    base = state.now() - 30 * 86400
    for dep_id, name, parent, head in DEPARTMENTS:
        state.departments[dep_id] = {
            "ID": str(dep_id),
            "NAME": name,
            "SORT": 500 if parent else 100,
            "PARENT": str(parent) if parent else "",
            "UF_HEAD": str(head),
        }
    for uid, first, last, second, gender, position, dep, email in EMPLOYEES:
        add_user(
            state,
            uid,
            first,
            last,
            second_name=second,
            gender=gender,
            position=position,
            departments=[dep],
            email=email,
            admin=uid == 1,
        )
    state._counters["user"] = 100

    company_ids: list[int] = []
    for i, (title, ctype, industry, phone, email) in enumerate(COMPANIES):
        company_ids.append(
            store_new(
                state,
                4,
                {
                    "TITLE": title,
                    "COMPANY_TYPE": ctype,
                    "INDUSTRY": industry,
                    "ASSIGNED_BY_ID": str(SALES[i % 3]),
                    "PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}],
                    "EMAIL": [{"VALUE": email, "VALUE_TYPE": "WORK"}],
                },
                created=base + i * 3600,
            )
        )
    contact_ids: list[int] = []
    for i, (first, last, second, phone, email, company, post) in enumerate(CONTACTS):
        contact_ids.append(
            store_new(
                state,
                3,
                {
                    "NAME": first,
                    "LAST_NAME": last,
                    "SECOND_NAME": second,
                    "POST": post,
                    "TYPE_ID": "CLIENT",
                    "SOURCE_ID": ["WEB", "CALL", "EMAIL", "RECOMMENDATION"][i % 4],
                    "COMPANY_ID": str(company_ids[company]) if company is not None else "0",
                    "ASSIGNED_BY_ID": str(SALES[i % 3]),
                    "PHONE": [{"VALUE": phone, "VALUE_TYPE": "MOBILE" if i % 2 else "WORK"}],
                    "EMAIL": [{"VALUE": email, "VALUE_TYPE": "WORK"}],
                },
                created=base + 86400 + i * 5400,
            )
        )
    for i, (title, first, last, phone, email, status, amount) in enumerate(LEADS):
        store_new(
            state,
            1,
            {
                "TITLE": title,
                "NAME": first,
                "LAST_NAME": last,
                "STATUS_ID": status,
                "SOURCE_ID": ["WEB", "CALL", "OTHER"][i % 3],
                "OPPORTUNITY": f"{amount:.2f}",
                "CURRENCY_ID": "RUB",
                "ASSIGNED_BY_ID": str(SALES[i % 3]),
                "PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}],
                "EMAIL": [{"VALUE": email, "VALUE_TYPE": "HOME"}],
            },
            created=base + 2 * 86400 + i * 7200,
        )
    for i, (title, contact, company, stage, amount) in enumerate(DEALS):
        store_new(
            state,
            2,
            {
                "TITLE": title,
                "STAGE_ID": stage,
                "CATEGORY_ID": "0",
                "OPPORTUNITY": f"{amount:.2f}",
                "CURRENCY_ID": "RUB",
                "CONTACT_ID": str(contact_ids[contact]),
                "COMPANY_ID": str(company_ids[company]) if company is not None else "0",
                "ASSIGNED_BY_ID": str(SALES[i % 3]),
                "CLOSED": "Y" if stage in ("WON", "LOSE") else "N",
                "SOURCE_ID": "WEB",
            },
            created=base + 3 * 86400 + i * 9000,
        )

    from .state import Line

    for line_id, name, queue in LINES:
        state.lines[line_id] = Line(id=line_id, name=name, queue=list(queue))
    state.customer_profiles.update({k: dict(v) for k, v in CUSTOMER_PROFILES.items()})
    # Realistic-looking id ranges for chats and messages.
    state._counters["chat"] = 2800
    state._counters["message"] = 91500
    state._counters["session"] = 3100
