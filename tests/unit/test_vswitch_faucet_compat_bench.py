"""bench/faucet_compat.py's extraction of configs from FAUCET-like test sources and
docs, and its classification of refusals, on small samples of our own."""

from bench import faucet_compat

DP = '''
    s1:
        dp_id: 1
'''

SOURCE = '''
BASE = """
vlans:
    office:
        vid: 100
"""
DP_CONFIG = """        dp_id: 0x1"""


class TestThing:
    CONFIG = BASE + """
dps:
    s1:
%s
        interfaces:
            1: {native_vlan: office}
""" % DP_CONFIG

    def test_local(self):
        config = """
dps:
    {name}:
        dp_id: {dp}
        interfaces:
            1: {{native_vlan: 100}}
""".format(name='sw', dp=2)
        self.check(config)
        self.check(f"""dps: {{s{3}: {{dp_id: 3, interfaces: {{1: {{native_vlan: 5}}}}}}}}""")
        self.check(unknown % 3)
        self.check("not a config")
'''

RST = '''
Intro text.

.. code-block:: yaml
  :caption: /etc/faucet/faucet.yaml

  vlans:
      office:
          vid: 100
  dps:
      sw1:
          dp_id: 1

Between.

.. code-block:: yaml

    acls: {}

End.
'''


def test_python_strings_evaluates_constants_concatenation_formatting():
    env = faucet_compat._constants(faucet_compat.ast.parse(SOURCE))
    texts = [text for _, text in faucet_compat.python_strings(SOURCE, env)]
    configs = [text for text in texts if faucet_compat.is_config(text)]
    assert len(configs) == 3
    class_config, local_config, fstring_config = configs
    assert 'vid: 100' in class_config and 'dp_id: 0x1' in class_config
    assert 'sw:' in local_config and 'dp_id: 2' in local_config
    assert 'native_vlan: 100' in local_config
    assert fstring_config.startswith('dps: {s3:')
    # a string built from a name it cannot know is not guessed at
    assert len(texts) == 6  # BASE, DP_CONFIG, the three configs, "not a config"


def test_rst_yaml_blocks_skip_directive_options():
    blocks = faucet_compat.rst_yaml_blocks(RST)
    assert [text for _, text in blocks] == [
        'vlans:\n    office:\n        vid: 100\ndps:\n    sw1:\n        dp_id: 1\n',
        'acls: {}\n',
    ]
    assert faucet_compat.is_config(blocks[0][1])
    assert not faucet_compat.is_config(blocks[1][1])


def test_is_config_takes_only_mappings_with_dps():
    assert faucet_compat.is_config('dps: {}')
    assert not faucet_compat.is_config('- dps')
    assert not faucet_compat.is_config('dps: [')
    assert not faucet_compat.is_config('when: 2019-13-01\ndps: {}')  # a bad date


def test_reason_names_options_and_strips_particulars():
    assert (
        faucet_compat.reason("FAUCET option 'lacp' is not supported by this suite")
        == 'unsupported option: lacp'
    )
    assert (
        faucet_compat.reason("unknown VLAN '200'; defined VLANs: office")
        == faucet_compat.reason("unknown VLAN 'guest'; defined VLANs: none")
        == "unknown VLAN '…'"
    )
    assert faucet_compat.reason('port 7 is out of range') == 'port N is out of range'


def test_summarise_counts_share_of_faucet_accepted_and_wrong_acceptances():
    samples = [faucet_compat.Sample('t.py:%d' % i, 'dps: {}') for i in range(4)]
    faucet_says = [(True, ''), (True, ''), (False, 'bad'), (False, 'bad')]
    we_say = [
        (True, []),
        (False, ["FAUCET option 'stack' is not supported by this suite", 'x 1', 'x 2']),
        (True, []),
        (False, ['y']),
    ]
    summary = faucet_compat.summarise(samples, faucet_says, we_say)
    assert summary['faucet_accepts'] == 2
    assert summary['we_accept_of_those'] == 1
    assert summary['acceptance'] == 0.5
    assert summary['faucet_refuses_we_accept'] == ['t.py:2']
    # counted once per config: 'x 1' and 'x 2' are one reason
    assert summary['refusal_reasons'] == {'unsupported option: stack': 1, 'x N': 1}
    assert 'FAUCET accepts 2; of those we accept 1 (50.0%)' in faucet_compat.table(summary)


def test_extract_reads_tests_docs_and_files_of_a_checkout(tmp_path):
    """A checkout in miniature: a test module with a config built from a clib constant,
    an RST page with a yaml block, and etc/faucet/faucet.yaml with an include."""
    (tmp_path / 'clib').mkdir()
    (tmp_path / 'clib' / 'lib.py').write_text('DP = """\n    s1:\n        dp_id: 1\n"""\n')
    tests = tmp_path / 'tests' / 'unit' / 'faucet'
    tests.mkdir(parents=True)
    (tests / 'test_x.py').write_text(
        'from clib.lib import DP\n'
        'CONFIG = """\ndps:\n%s        interfaces: {1: {native_vlan: 100}}\n""" % DP\n'
        'SAME = CONFIG.strip()\n'  # the same config again: counted once
    )
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'page.rst').write_text(
        '.. code-block:: yaml\n\n  dps: {s2: {dp_id: 2, interfaces: {1: {native_vlan: 9}}}}\n'
    )
    etc = tmp_path / 'etc' / 'faucet'
    etc.mkdir(parents=True)
    (etc / 'faucet.yaml').write_text(
        'include: [acls.yaml]\ndps: {s3: {dp_id: 3, interfaces: {1: {native_vlan: 7}}}}\n'
    )
    (etc / 'acls.yaml').write_text('acls: {}\n')  # no dps: an include, not a config
    samples = faucet_compat.extract(str(tmp_path))
    assert [s.origin for s in samples] == [
        'tests/unit/faucet/test_x.py:2',
        'docs/page.rst:3',
        'etc/faucet/faucet.yaml:1',
    ]
    assert samples[2].path == str(etc / 'faucet.yaml')
    paths = faucet_compat.write_samples(samples, str(tmp_path / 'work'))
    assert paths[2] == str(etc / 'faucet.yaml')  # in place: its include resolves
    verdicts = [faucet_compat.our_verdict(path) for path in paths]
    assert verdicts[0] == (True, []) and verdicts[2] == (True, [])
    assert verdicts[1] == (True, [])
