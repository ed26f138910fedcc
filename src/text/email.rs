//! The emails' sentences ([`crate::email::messages`] lays them out as blocks).
//!
//! French emails keep a plain space before `:` (subjects included): a no-break one is better
//! typography but surprises whoever searches a mailbox or the texts for `Carburoam : `.

use crate::domain::Lang;
use crate::text::table;

table! {
/// Adding a field makes both tables fail to build until it is translated.
#[derive(Debug)]
pub struct EmailStrings {
    /// The greeting when the name is blank.
    pub hello: &'static str,
    /// The greeting with a name.
    pub hello_name: fn(&str) -> String,
    /// Between a button's label and its address in the plain-text part.
    pub colon: &'static str,
    pub footer: &'static str,
    /// Above the address of a button, for clients that strip buttons.
    pub button_fallback: &'static str,
    // Forgot password
    pub reset_subject: &'static str,
    pub reset_intro: &'static str,
    pub reset_how: &'static str,
    pub reset_button: &'static str,
    /// The code and the link are valid this many minutes.
    pub reset_valid: fn(u64) -> String,
    pub reset_not_you: &'static str,
    // Forgot username, with the number of usernames sent
    pub reminder_subject: fn(u64) -> &'static str,
    pub reminder_intro: fn(u64) -> &'static str,
    pub reminder_button: &'static str,
    pub reminder_not_you: &'static str,
    // Confirm an address
    pub confirm_subject: &'static str,
    pub confirm_intro: &'static str,
    pub confirm_button: &'static str,
    /// The link is valid this many hours.
    pub confirm_valid: fn(u64) -> String,
    pub confirm_not_you: &'static str,
    // Security notices
    pub notice_if_you: &'static str,
    pub password_changed_subject: &'static str,
    pub password_changed_what: &'static str,
    pub password_changed_not_you: &'static str,
    pub email_changed_subject: &'static str,
    /// With the new address.
    pub email_changed_what: fn(&str) -> String,
    pub email_changed_not_you: &'static str,
    pub deleted_subject: &'static str,
    pub deleted_what: &'static str,
    pub deleted_not_you: &'static str,
    // An email change asked for: told to the old address, with a link that cancels it
    pub change_requested_subject: &'static str,
    /// With the new address.
    pub change_requested_what: fn(&str) -> String,
    /// The cancel link is valid this many hours.
    pub change_requested_not_you: fn(u64) -> String,
    pub change_requested_button: &'static str,
    // Someone offered an address already in use (registration or email change)
    pub address_in_use_subject: &'static str,
    pub address_in_use_what: &'static str,
    pub address_in_use_if_you: &'static str,
    pub address_in_use_forgot: &'static str,
    pub address_in_use_otherwise: &'static str,
}
}

pub static FR: EmailStrings = EmailStrings {
    hello: "Bonjour,",
    hello_name: |name| format!("Bonjour {name},"),
    colon: " :",
    footer: "Message automatique envoyé par Carburoam, merci de ne pas y répondre.",
    button_fallback: "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
    reset_subject: "Carburoam : votre code de réinitialisation",
    reset_intro: "Vous avez demandé à réinitialiser le mot de passe de votre compte Carburoam. Voici votre code :",
    reset_how: "Saisissez-le sur la page de réinitialisation, ou utilisez le lien ci-dessous.",
    reset_button: "Choisir un nouveau mot de passe",
    reset_valid: |n| {
        format!(
            "Ce code et ce lien sont valables {}. Ne les communiquez à personne.",
            Lang::Fr.count(n, "minute", "minutes")
        )
    },
    reset_not_you: "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe reste \
                    inchangé.",
    reminder_subject: |n| {
        if Lang::Fr.singular(n) { "Carburoam : votre identifiant" } else { "Carburoam : vos identifiants" }
    },
    reminder_intro: |n| {
        if Lang::Fr.singular(n) {
            "Voici l'identifiant du compte Carburoam associé à cette adresse e-mail :"
        } else {
            "Voici les identifiants des comptes Carburoam associés à cette adresse e-mail :"
        }
    },
    reminder_button: "Se connecter",
    reminder_not_you: "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien n'a été modifié.",
    confirm_subject: "Carburoam : confirmez votre adresse e-mail",
    confirm_intro: "Pour associer cette adresse e-mail à votre compte Carburoam, confirmez-la avec le lien ci-dessous.",
    confirm_button: "Confirmer mon adresse",
    confirm_valid: |n| format!("Ce lien est valable {}.", Lang::Fr.count(n, "heure", "heures")),
    confirm_not_you: "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : cette adresse ne sera \
                      associée à aucun compte.",
    notice_if_you: "Si c'est vous, vous n'avez rien à faire.",
    password_changed_subject: "Carburoam : votre mot de passe a été modifié",
    password_changed_what: "Le mot de passe de votre compte Carburoam vient d'être modifié.",
    password_changed_not_you: "Si ce n'est pas vous, quelqu'un d'autre connaît peut-être votre mot de passe : \
                               réinitialisez-le sans attendre avec «\u{a0}Mot de passe oublié\u{a0}» sur la page \
                               de connexion.",
    email_changed_subject: "Carburoam : l'adresse e-mail de votre compte a été modifiée",
    email_changed_what: |new_address| {
        format!(
            "L'adresse e-mail de votre compte Carburoam a été remplacée par {new_address}. Ce message est envoyé à \
             l'ancienne adresse pour vous prévenir."
        )
    },
    email_changed_not_you: "Si ce n'est pas vous, quelqu'un d'autre a peut-être accès à votre compte : \
                            connectez-vous, changez votre mot de passe et rétablissez votre adresse. Si vous ne \
                            pouvez plus vous connecter, contactez l'administrateur de ce site.",
    deleted_subject: "Carburoam : votre compte a été supprimé",
    deleted_what: "Votre compte Carburoam a été supprimé. Merci de l'avoir utilisé.",
    deleted_not_you: "Si ce n'est pas vous, contactez sans attendre l'administrateur de ce site.",
    change_requested_subject: "Carburoam : changement d'adresse e-mail demandé",
    change_requested_what: |new_address| {
        format!(
            "Quelqu'un connecté à votre compte Carburoam a demandé à remplacer cette adresse par {new_address}. \
             Rien ne change tant que le lien envoyé à la nouvelle adresse n'est pas suivi."
        )
    },
    change_requested_not_you: |n| {
        format!(
            "Si ce n'est pas vous, annulez ce changement (le lien est valable {}) : toutes les sessions de votre \
             compte seront fermées. Changez ensuite votre mot de passe avec «\u{a0}Mot de passe oublié\u{a0}».",
            Lang::Fr.count(n, "heure", "heures")
        )
    },
    change_requested_button: "Annuler le changement",
    address_in_use_subject: "Carburoam : votre adresse e-mail a été proposée pour un autre compte",
    address_in_use_what: "Quelqu'un vient de proposer cette adresse e-mail pour créer un compte Carburoam, ou pour un \
                          autre compte. Elle est déjà celle de votre compte : rien n'a été modifié.",
    address_in_use_if_you: "Si c'est vous, connectez-vous avec votre compte existant :",
    address_in_use_forgot: "Mot de passe oublié",
    address_in_use_otherwise: "Sinon, ignorez ce message.",
};

pub static EN: EmailStrings = EmailStrings {
    hello: "Hello,",
    hello_name: |name| format!("Hello {name},"),
    colon: ":",
    footer: "Automatic message from Carburoam, please do not reply.",
    button_fallback: "If the button does not work, copy this link into your browser:",
    reset_subject: "Carburoam: your password reset code",
    reset_intro: "You asked to reset the password of your Carburoam account. Here is your code:",
    reset_how: "Enter it on the password reset page, or use the link below.",
    reset_button: "Choose a new password",
    reset_valid: |n| {
        format!(
            "This code and this link are valid for {}. Do not share them with anyone.",
            Lang::En.count(n, "minute", "minutes")
        )
    },
    reset_not_you: "If you did not ask for this, ignore this message: your password is unchanged.",
    reminder_subject: |n| if Lang::En.singular(n) { "Carburoam: your username" } else { "Carburoam: your usernames" },
    reminder_intro: |n| {
        if Lang::En.singular(n) {
            "Here is the username of the Carburoam account registered with this email address:"
        } else {
            "Here are the usernames of the Carburoam accounts registered with this email address:"
        }
    },
    reminder_button: "Log in",
    reminder_not_you: "If you did not ask for this, ignore this message: nothing was changed.",
    confirm_subject: "Carburoam: confirm your email address",
    confirm_intro: "To use this email address with your Carburoam account, please confirm it with the link below.",
    confirm_button: "Confirm my address",
    confirm_valid: |n| format!("This link is valid for {}.", Lang::En.count(n, "hour", "hours")),
    confirm_not_you: "If you did not ask for this, ignore this message: this address will not be added to any \
                      account.",
    notice_if_you: "If it was you, there is nothing to do.",
    password_changed_subject: "Carburoam: your password was changed",
    password_changed_what: "The password of your Carburoam account was just changed.",
    password_changed_not_you: "If it was not you, someone else may know your password: reset it at once with \
                               \u{201c}Forgot password\u{201d} on the login page.",
    email_changed_subject: "Carburoam: the email address of your account was changed",
    email_changed_what: |new_address| {
        format!(
            "The email address of your Carburoam account was changed to {new_address}. This message is sent to the \
             old address to let you know."
        )
    },
    email_changed_not_you: "If it was not you, someone else may have access to your account: log in, change your \
                            password and restore your address. If you can no longer log in, contact the \
                            administrator of this site.",
    deleted_subject: "Carburoam: your account was deleted",
    deleted_what: "Your Carburoam account was deleted. Thank you for using it.",
    deleted_not_you: "If it was not you, contact the administrator of this site at once.",
    change_requested_subject: "Carburoam: email address change requested",
    change_requested_what: |new_address| {
        format!(
            "Someone logged in to your Carburoam account asked to replace this address with {new_address}. \
             Nothing changes until the link sent to the new address is followed."
        )
    },
    change_requested_not_you: |n| {
        format!(
            "If it was not you, cancel this change (the link is valid for {}): every session of your account \
             will be closed. Then change your password with \u{201c}Forgot password\u{201d}.",
            Lang::En.count(n, "hour", "hours")
        )
    },
    change_requested_button: "Cancel the change",
    address_in_use_subject: "Carburoam: your email address was offered for another account",
    address_in_use_what: "Someone just offered this email address to create a Carburoam account, or for another \
                          account. It is already the address of your account: nothing was changed.",
    address_in_use_if_you: "If it was you, log in with your existing account:",
    address_in_use_forgot: "Forgot password",
    address_in_use_otherwise: "Otherwise, ignore this message.",
};
