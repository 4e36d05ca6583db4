//! Connect's per-channel settings (AutoAcceptConfigs, AfterContactWorkConfigs, PhoneNumberConfigs,
//! PersistentConnectionConfigs, VoiceEnhancementConfigs): sent on CreateUser, and with UpdateUserConfig when an
//! existing user's lists differ from the row's. A list replaces its `PhoneConfig` twin, so when the row gives phone
//! numbers per channel no `PhoneConfig` is sent and the row's whole-user values become the VOICE entries.

use aws_sdk_connect::types::{
    AfterContactWorkConfig, AfterContactWorkConfigPerChannel, AutoAcceptConfig, Channel as SdkChannel,
    PersistentConnectionConfig, PhoneNumberConfig, PhoneType as SdkPhoneType, User, VoiceEnhancementConfig,
    VoiceEnhancementMode as SdkVoiceEnhancementMode,
};

use super::provisioner::ProvisionError;
use crate::domain::{Channel, PhoneSettings, PhoneType, VoiceEnhancementMode};

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChannelLists {
    pub auto_accept: Vec<AutoAcceptConfig>,
    pub after_contact_work: Vec<AfterContactWorkConfigPerChannel>,
    pub phone_numbers: Vec<PhoneNumberConfig>,
    pub persistent_connection: Vec<PersistentConnectionConfig>,
    pub voice_enhancement: Vec<VoiceEnhancementConfig>,
}

fn channel(channel: Channel) -> SdkChannel {
    match channel {
        Channel::Voice => SdkChannel::Voice,
        Channel::Chat => SdkChannel::Chat,
        Channel::Task => SdkChannel::Task,
        Channel::Email => SdkChannel::Email,
    }
}

fn phone_type(phone_type: PhoneType) -> SdkPhoneType {
    match phone_type {
        PhoneType::SoftPhone => SdkPhoneType::SoftPhone,
        PhoneType::DeskPhone => SdkPhoneType::DeskPhone,
    }
}

fn built<T>(result: Result<T, aws_sdk_connect::error::BuildError>) -> Result<T, ProvisionError> {
    result.map_err(|e| ProvisionError::permanent(e.to_string()))
}

/// Sorted by channel, so that lists compare whatever order the service returns them in.
fn sorted<T: Clone>(list: &[T], key: impl Fn(&T) -> &SdkChannel + Copy) -> Vec<T> {
    let mut list = list.to_vec();
    list.sort_by(|a, b| key(a).as_str().cmp(key(b).as_str()));
    list
}

impl ChannelLists {
    /// The row's lists; `whole_phone_config` says whether a `PhoneConfig` is sent beside them.
    pub fn of(phone: &PhoneSettings) -> Result<(Self, bool), ProvisionError> {
        let per = &phone.per_channel;
        let mut lists = Self::default();
        for (c, on) in &per.auto_accept {
            lists.auto_accept.push(built(AutoAcceptConfig::builder().channel(channel(*c)).auto_accept(*on).build())?);
        }
        for (c, seconds) in &per.after_contact_work {
            lists.after_contact_work.push(built(
                AfterContactWorkConfigPerChannel::builder()
                    .channel(channel(*c))
                    .after_contact_work_config(
                        AfterContactWorkConfig::builder().after_contact_work_time_limit(*seconds as i32).build(),
                    )
                    .build(),
            )?);
        }
        for (c, setting) in &per.phone_numbers {
            lists.phone_numbers.push(built(
                PhoneNumberConfig::builder()
                    .channel(channel(*c))
                    .phone_type(phone_type(setting.phone_type))
                    .set_phone_number(setting.phone_number.clone())
                    .build(),
            )?);
        }
        for (c, on) in &per.persistent_connection {
            lists.persistent_connection.push(built(
                PersistentConnectionConfig::builder().channel(channel(*c)).persistent_connection(*on).build(),
            )?);
        }
        for (c, mode) in &per.voice_enhancement {
            let mode = match mode {
                VoiceEnhancementMode::VoiceIsolation => SdkVoiceEnhancementMode::VoiceIsolation,
                VoiceEnhancementMode::NoiseSuppression => SdkVoiceEnhancementMode::NoiseSuppression,
                VoiceEnhancementMode::None => SdkVoiceEnhancementMode::None,
            };
            lists.voice_enhancement.push(built(
                VoiceEnhancementConfig::builder().channel(channel(*c)).voice_enhancement_mode(mode).build(),
            )?);
        }
        let whole_phone_config = lists.phone_numbers.is_empty();
        if !whole_phone_config {
            lists.fold_whole_settings_into_voice(phone)?;
        }
        Ok((lists, whole_phone_config))
    }

    fn fold_whole_settings_into_voice(&mut self, phone: &PhoneSettings) -> Result<(), ProvisionError> {
        let voice = SdkChannel::Voice;
        if let Some(on) = phone.auto_accept
            && !self.auto_accept.iter().any(|c| c.channel == voice)
        {
            self.auto_accept.push(built(AutoAcceptConfig::builder().channel(voice.clone()).auto_accept(on).build())?);
        }
        if let Some(seconds) = phone.after_contact_work_seconds
            && !self.after_contact_work.iter().any(|c| c.channel == voice)
        {
            self.after_contact_work.push(built(
                AfterContactWorkConfigPerChannel::builder()
                    .channel(voice.clone())
                    .after_contact_work_config(
                        AfterContactWorkConfig::builder().after_contact_work_time_limit(seconds as i32).build(),
                    )
                    .build(),
            )?);
        }
        if let Some(on) = phone.persistent_connection
            && !self.persistent_connection.iter().any(|c| c.channel == voice)
        {
            self.persistent_connection
                .push(built(PersistentConnectionConfig::builder().channel(voice).persistent_connection(on).build())?);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The names of the lists that hold something, for a plan's "fields that differ".
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("auto accept per channel", self.auto_accept.is_empty()),
            ("after-contact work per channel", self.after_contact_work.is_empty()),
            ("phone numbers per channel", self.phone_numbers.is_empty()),
            ("persistent connection per channel", self.persistent_connection.is_empty()),
            ("voice enhancement", self.voice_enhancement.is_empty()),
        ]
        .into_iter()
        .filter(|(_, empty)| !empty)
        .map(|(name, _)| name)
        .collect()
    }

    /// The lists that differ from the user's (a list the row leaves empty is left alone).
    pub fn changes_from(&self, user: &User) -> Self {
        Self {
            auto_accept: changed(&self.auto_accept, user.auto_accept_configs(), |c| &c.channel),
            after_contact_work: changed(&self.after_contact_work, user.after_contact_work_configs(), |c| &c.channel),
            phone_numbers: changed(&self.phone_numbers, user.phone_number_configs(), |c| &c.channel),
            persistent_connection: changed(&self.persistent_connection, user.persistent_connection_configs(), |c| {
                &c.channel
            }),
            voice_enhancement: changed(&self.voice_enhancement, user.voice_enhancement_configs(), |c| &c.channel),
        }
    }
}

fn changed<T: Clone + PartialEq>(wanted: &[T], current: &[T], key: impl Fn(&T) -> &SdkChannel + Copy) -> Vec<T> {
    if !wanted.is_empty() && sorted(wanted, key) != sorted(current, key) { wanted.to_vec() } else { Vec::new() }
}

/// `Some(list)` for a list to send, `None` for one to leave out.
pub(crate) fn given<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}
