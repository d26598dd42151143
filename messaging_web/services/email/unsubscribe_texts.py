"""The words of the unsubscribe footer and the preference page in the languages our emails come in.

Recipients reach these from an email in their language, without an account, so they follow the email's
(or the store's) language rather than a signed-in person's settings.
"""
from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "footer_marketing": "You receive this email because you subscribed to news from this store.",
        "footer_conversations": "You receive this email because you take part in a conversation with this store.",
        "footer_link": "Unsubscribe or choose which emails you receive",
        "title": "Email preferences",
        "intro": "Choose which emails {store} sends to {email}.",
        "marketing": "News and offers",
        "marketing_help": "Newsletters, promotions and new products.",
        "conversations": "Conversation emails",
        "conversations_help": "An email when someone answers you in a conversation. The messages stay in your inbox.",
        "everything": "Unsubscribe from everything this store sends",
        "everything_help": "Except the emails below, which you cannot turn off.",
        "transactional_title": "Always sent",
        "transactional": "Order confirmations, shipping updates, invoices, payment notices and sign-in emails "
                         "are part of the service you asked for: they are sent whatever you choose here.",
        "save": "Save my preferences",
        "saved": "Your preferences are saved.",
        "unsubscribed": "You are unsubscribed. You will receive no more of these emails from {store}.",
        "unsubscribed_what": "Unsubscribed from: {what}.",
        "manage": "You can change your mind below at any time.",
        "complained": "You reported one of these emails as spam, so {store} sends you nothing optional. "
                      "Turn a kind back on to receive it again.",
        "on": "On",
        "off": "Off",
        "invalid": "This unsubscribe link is not valid. Use the link in your most recent email.",
    },
    "fr": {
        "footer_marketing": "Vous recevez cet e-mail parce que vous êtes abonné(e) aux actualités de cette boutique.",
        "footer_conversations": "Vous recevez cet e-mail parce que vous participez à une conversation "
                                "avec cette boutique.",
        "footer_link": "Se désabonner ou choisir les e-mails reçus",
        "title": "Préférences d’e-mail",
        "intro": "Choisissez les e-mails que {store} envoie à {email}.",
        "marketing": "Actualités et offres",
        "marketing_help": "Lettres d’information, promotions et nouveautés.",
        "conversations": "E-mails de conversation",
        "conversations_help": "Un e-mail quand quelqu’un vous répond dans une conversation. "
                              "Les messages restent dans votre boîte de réception.",
        "everything": "Me désabonner de tout ce qu’envoie cette boutique",
        "everything_help": "Sauf les e-mails ci-dessous, qui ne peuvent pas être désactivés.",
        "transactional_title": "Toujours envoyés",
        "transactional": "Les confirmations de commande, le suivi des livraisons, les factures, les avis de paiement "
                         "et les e-mails de connexion font partie du service que vous avez demandé : "
                         "ils sont envoyés quel que soit votre choix ici.",
        "save": "Enregistrer mes préférences",
        "saved": "Vos préférences sont enregistrées.",
        "unsubscribed": "Vous êtes désabonné(e). Vous ne recevrez plus ces e-mails de {store}.",
        "unsubscribed_what": "Désabonnement : {what}.",
        "manage": "Vous pouvez changer d’avis ci-dessous à tout moment.",
        "complained": "Vous avez signalé l’un de ces e-mails comme indésirable : {store} ne vous envoie donc plus "
                      "rien de facultatif. Réactivez un type d’e-mail pour le recevoir à nouveau.",
        "on": "Activé",
        "off": "Désactivé",
        "invalid": "Ce lien de désabonnement n’est pas valide. Utilisez le lien de votre e-mail le plus récent.",
    },
    "de": {
        "footer_marketing": "Sie erhalten diese E-Mail, weil Sie Neuigkeiten dieses Shops abonniert haben.",
        "footer_conversations": "Sie erhalten diese E-Mail, weil Sie an einer Unterhaltung mit diesem Shop teilnehmen.",
        "footer_link": "Abbestellen oder auswählen, welche E-Mails Sie erhalten",
        "title": "E-Mail-Einstellungen",
        "intro": "Wählen Sie, welche E-Mails {store} an {email} sendet.",
        "marketing": "Neuigkeiten und Angebote",
        "marketing_help": "Newsletter, Aktionen und neue Produkte.",
        "conversations": "E-Mails zu Unterhaltungen",
        "conversations_help": "Eine E-Mail, wenn Ihnen jemand in einer Unterhaltung antwortet. "
                              "Die Nachrichten bleiben in Ihrem Posteingang.",
        "everything": "Alles abbestellen, was dieser Shop sendet",
        "everything_help": "Außer den unten genannten E-Mails, die sich nicht abbestellen lassen.",
        "transactional_title": "Immer gesendet",
        "transactional": "Bestellbestätigungen, Versandinformationen, Rechnungen, Zahlungshinweise und "
                         "Anmelde-E-Mails gehören zu dem Service, den Sie in Anspruch nehmen: "
                         "Sie werden unabhängig von Ihrer Auswahl hier gesendet.",
        "save": "Einstellungen speichern",
        "saved": "Ihre Einstellungen sind gespeichert.",
        "unsubscribed": "Sie haben sich abgemeldet. Sie erhalten diese E-Mails von {store} nicht mehr.",
        "unsubscribed_what": "Abbestellt: {what}.",
        "manage": "Sie können Ihre Wahl unten jederzeit ändern.",
        "complained": "Sie haben eine dieser E-Mails als Spam gemeldet, daher sendet Ihnen {store} nichts "
                      "Optionales mehr. Aktivieren Sie eine Art wieder, um sie erneut zu erhalten.",
        "on": "An",
        "off": "Aus",
        "invalid": "Dieser Abmeldelink ist ungültig. Verwenden Sie den Link aus Ihrer neuesten E-Mail.",
    },
}


def texts_for(language: str | None) -> dict[str, str]:
    """The texts of `language` (de-CH reads de), English where we have none."""
    base = (language or "en").split("-")[0].lower()
    return TEXTS.get(base, TEXTS["en"])
